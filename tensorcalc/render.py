"""Entry formulas of derivative networks in index notation and LaTeX.

Works on plain data (labels, symbols), so the core can render itself without importing anything
above it. A label shared by the output and input side is written out as a Kronecker delta with a
fresh index on the input side: ``dz_i/dW_kj = a_j delta_ik``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"


def _fresh(taken: set[str]) -> str:
    for c in _LETTERS:
        if c not in taken:
            taken.add(c)
            return c
    raise ValueError("ran out of index letters")


def entry_parts(out_labels: str, in_labels: str, factors: Sequence[tuple[str, str]]):
    """Split an entry formula into (out indices, in indices, summed indices, terms).

    ``terms`` are ``(symbol, labels)`` pairs, deltas included as ``("delta", "ik")``.
    """
    taken = set(out_labels) | set(in_labels) | {c for _, labels in factors for c in labels}
    seen = set(out_labels)
    new_in, deltas = [], []
    for c in in_labels:
        if c in seen:
            d = _fresh(taken)
            deltas.append(("delta", c + d))
            new_in.append(d)
        else:
            seen.add(c)
            new_in.append(c)
    result = set(out_labels) | set(in_labels)
    summed = [c for c in dict.fromkeys(c for _, labels in factors for c in labels)
              if c not in result]
    return out_labels, "".join(new_in), summed, list(factors) + deltas


def index_notation(of: str, wrt: str, out_labels: str, in_labels: str,
                   factors: Sequence[tuple[str, str]]) -> str:
    """``dz_i/dW_kj = a_j delta_ik`` style entry formula."""
    out_i, in_i, summed, terms = entry_parts(out_labels, in_labels, factors)
    lhs = f"d{of}{'_' + out_i if out_i else ''}/d{wrt}{'_' + in_i if in_i else ''}"
    body = " ".join(_indexed(sym, labels) for sym, labels in terms) or "1"
    if summed:
        body = f"sum_{''.join(summed)} {body}"
    return f"{lhs} = {body}"


def _indexed(symbol: str, labels: str) -> str:
    if not labels:
        return symbol
    if " " in symbol or "/" in symbol:
        symbol = f"[{symbol}]"
    return f"{symbol}_{labels}"


_GREEK = ("sigma", "delta", "tanh")


def latex_symbol(symbol: str) -> str:
    """A display symbol (``sigma'(z^1)``, ``W^2``, ``diag(p)``) as LaTeX."""
    s = symbol
    s = re.sub(r"\b(softplus|lrelu|relu|softmax|diag|id)\b", r"\\operatorname{\1}", s)
    for g in _GREEK:
        s = re.sub(rf"\b{g}\b", rf"\\{g}", s)
    s = re.sub(r"\^([A-Za-z0-9]+)", r"^{\1}", s)
    s = s.replace("(.)", r"\odot")
    return s


def latex(of: str, wrt: str, out_labels: str, in_labels: str,
          factors: Sequence[tuple[str, str]]) -> str:
    r"""The entry formula as LaTeX, e.g.
    ``\frac{\partial z_{i}}{\partial W_{kj}} = a_{j} \delta_{ik}``."""
    out_i, in_i, summed, terms = entry_parts(out_labels, in_labels, factors)

    def sub(base: str, labels: str) -> str:
        base = latex_symbol(base)
        if not labels:
            return base
        if "(" in base or " " in base:
            base = f"\\left[{base}\\right]"
        return f"{base}_{{{labels}}}"

    lhs = f"\\frac{{\\partial {sub(of, out_i)}}}{{\\partial {sub(wrt, in_i)}}}"
    body = " ".join(sub(sym, labels) for sym, labels in terms) or "1"
    if summed:
        body = f"\\sum_{{{','.join(summed)}}} {body}"
    return f"{lhs} = {body}"
