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


# ---------------------------------------------------------------- matrix notation
def _atomic(expr: str) -> bool:
    return " " not in expr or (expr.startswith("(") and expr.endswith(")")
                               and expr.count("(") == 1)


def _wrap(expr: str) -> str:
    return expr if _atomic(expr) else f"({expr})"


def transpose(expr: str) -> str:
    """``W^2`` -> ``W^2T``, ``a`` -> ``a^T``, a compound ``(x y)^T``."""
    if not _atomic(expr):
        return f"({expr})^T"
    return expr + "T" if re.search(r"\^\w+$", expr) else expr + "^T"


def _combine(a: tuple[str, str], b: tuple[str, str], keep: set[str]):
    """One recognised pairwise contraction as matrix notation, or None."""
    (ea, la), (eb, lb) = a, b
    shared = set(la) & set(lb)
    summed = shared - keep
    if la == lb and not summed:
        return f"{_wrap(ea)} (.) {_wrap(eb)}", la
    if len(la) == 1 and len(lb) == 1 and not shared:
        return f"{_wrap(ea)} {transpose(eb)}", la + lb
    if len(summed) != 1 or shared != summed:
        return None
    (k,) = summed
    if len(la) == 1 and len(lb) == 2:  # a vector times a matrix: b^T a or b a
        other = lb.replace(k, "")
        return (f"{transpose(eb)} {_wrap(ea)}" if lb[0] == k else f"{_wrap(eb)} {_wrap(ea)}"), other
    if len(la) == 2 and len(lb) == 1:
        other = la.replace(k, "")
        return (f"{_wrap(ea)} {_wrap(eb)}" if la[1] == k else f"{transpose(ea)} {_wrap(eb)}"), other
    if len(la) == 2 and len(lb) == 2:
        left = _wrap(ea) if la[1] == k else transpose(ea)
        right = _wrap(eb) if lb[0] == k else transpose(eb)
        return f"{left} {right}", la.replace(k, "") + lb.replace(k, "")
    return None


def matrix_notation(operands: Sequence[tuple[str, str]], result: str) -> str | None:
    """The contraction ``operands -> result`` in matrix notation, where it is built from matrix
    products, transposes, outer products, Hadamard products and sums; otherwise None.

    >>> matrix_notation([("delta^2", "i"), ("W^2", "ij"), ("sigma'(z^1)", "j")], "j")
    "(W^2T delta^2) (.) sigma'(z^1)"
    >>> matrix_notation([("delta^1", "nj"), ("a^0", "nk")], "jk")
    'delta^1T a^0'
    """
    items = [(sym, labels) for sym, labels in operands]
    while len(items) > 1:
        for i in range(len(items)):
            for j in range(len(items)):
                if i == j:
                    continue
                others = [lab for k, (_, lab) in enumerate(items) if k not in (i, j)]
                keep = set(result).union(*others)
                combined = _combine(items[i], items[j], keep)
                if combined:
                    rest = [it for k, it in enumerate(items) if k not in (i, j)]
                    items = rest[: min(i, j)] + [combined] + rest[min(i, j):]
                    break
            else:
                continue
            break
        else:
            return None
    (expr, labels), = items
    if labels == result:
        return expr
    if len(labels) == 2 and labels[::-1] == result:
        return transpose(expr)
    if set(result) < set(labels) and "".join(c for c in labels if c in result) == result:
        return f"sum_{''.join(c for c in labels if c not in result)} {_wrap(expr)}"
    return None


# ---------------------------------------------------------------- HTML for notebooks
#: Tensors with at most this many entries are shown in full in notebooks; larger ones summarised.
HTML_MAX_ENTRIES = 400


def _cell(v: float) -> str:
    return f"<td style='text-align:right'>{v:.4g}</td>"


def html_array(arr, max_entries: int = HTML_MAX_ENTRIES) -> str:
    """A small array as (nested) HTML matrices; a large one as a one-line summary."""
    import numpy as np

    arr = np.asarray(arr)
    if arr.size > max_entries:
        return (f"<i>{arr.shape} tensor, {arr.size:,} entries (not shown; min {arr.min():.4g}, "
                f"max {arr.max():.4g})</i>")
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim == 2:
        rows = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in arr)
        return f"<table style='border-left:1px solid;border-right:1px solid'>{rows}</table>"
    cells = "".join(f"<td>{html_array(sub, max_entries)}</td>" for sub in arr)
    return f"<table><tr>{cells}</tr></table>"


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def derivative_html(d) -> str:
    """A derivative for a notebook: kind and shapes, its entry formula, and its values when
    small (nested matrices in canonical layout) or its size when not."""
    head = html_escape(f"{d.kind} d{d.of}/d{d.wrt}: out {d.out_shape}, in {d.in_shape}, "
                       f"{d.structure} ({d.structural_zero_fraction:.0%} structural zeros)")
    if d.nbytes_dense <= 8 * HTML_MAX_ENTRIES:
        body = html_array(d.dense())
    else:
        body = f"<i>{d.nbytes_dense:,} bytes when dense; not shown (call .dense() or tc.plot)</i>"
    return f"<div><b>{head}</b><br><code>{html_escape(d.index_notation())}</code><br>{body}</div>"
