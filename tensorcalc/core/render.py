"""Entry formulas of derivative networks in index notation and LaTeX.

Works on plain data (labels, symbols, coefficients), so the core can render itself without
importing anything above it. A label shared by the output and input side is written out as a
Kronecker delta with a fresh index on the input side: ``dz_i/dW_kj = a_j delta_ik``. A sum of
terms shares one left-hand side: ``dp_i/dz_j = p_i delta_ij - p_i p_j``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .labels import split_second

_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"

#: A term as plain data: (coefficient, output labels, input labels, [(symbol, labels), ...],
#: relations); a relation renders itself with ``text(letters)``.
TermData = tuple


def percent(share: float) -> str:
    """``share`` as a percentage with as many decimals as it takes never to show 0% or 100%
    for a share that is not exactly 0 or 1 (99.8% stays 99.8%).

    >>> percent(0.998), percent(1.0), percent(0.25), percent(1e-5)
    ('99.8%', '100%', '25%', '0.001%')
    """
    for digits in range(7):
        shown = round(share * 100, digits)
        if (shown == 100 and share < 1) or (shown == 0 and share > 0):
            continue
        return f"{share:.{digits}%}"
    return f"{share:.7%}"


def text_table(head: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] +
                     [fmt.format(*map(str, r)) for r in rows])


def _fresh(taken: set[str]) -> str:
    for c in _LETTERS:
        if c not in taken:
            taken.add(c)
            return c
    raise ValueError("ran out of index letters")


def axis_letters(axes: str, taken: set[str]) -> str:
    """One distinct index letter per axis: the given letter where it first occurs, a fresh
    one where it repeats (the input side of a delta)."""
    letters, seen = [], set()
    for c in axes:
        letters.append(_fresh(taken) if c in seen else c)
        seen.add(c)
    return "".join(letters)


def _term_parts(term: TermData, letters: str, taken: set[str]):
    """(summed indices, [(symbol, indices)], deltas appended) of one term in the letters of
    the left-hand side."""
    _, out_labels, in_labels, factors, relations = term
    axes = out_labels + in_labels
    mapping: dict[str, str] = {}
    deltas = []
    for c, letter in zip(axes, letters):
        if c in mapping:
            deltas.append(("delta", mapping[c] + letter))
        else:
            mapping[c] = letter
    carried = [labels for _, labels in factors] + [r.labels for r in relations]
    for labels in carried:
        for c in labels:
            if c not in mapping:
                mapping[c] = c if c not in letters else _fresh(taken)
    parts = [(sym, "".join(mapping[c] for c in labels)) for sym, labels in factors]
    parts += [(f"[{r.text(mapping)}]", "") for r in relations]
    summed = [mapping[c] for c in dict.fromkeys(c for labels in carried for c in labels)
              if c not in axes]
    return summed, parts + deltas


def _coefficient(coef: float, first: bool) -> str:
    """How a term's coefficient opens it: ``""``, ``"-"``, ``"+ "``, ``"- 0.5 "``."""
    size = "" if abs(coef) == 1 else f"{abs(coef):g} "
    if first:
        return ("-" if coef < 0 else "") + size
    return ("- " if coef < 0 else "+ ") + size


def _formula(of, wrt, axes, terms, lhs_fn, body_fn, sum_fn) -> str:
    taken = {c for _, o, i, fs, rs in terms
             for c in o + i + "".join(lab for _, lab in fs) + "".join(r.labels for r in rs)}
    letters = axis_letters(axes, taken)
    k = len(terms[0][1])
    bodies = []
    for n, term in enumerate(terms):
        summed, parts = _term_parts(term, letters, taken)
        body = body_fn(parts)
        if summed:
            body = sum_fn(summed, body)
        bodies.append(_coefficient(term[0], n == 0) + body)
    return f"{lhs_fn(letters[:k], letters[k:])} = " + " ".join(bodies)


def index_notation(of: str, wrt: str, axes: str, terms: Sequence[TermData]) -> str:
    """``dz_i/dW_kj = a_j delta_ik`` style entry formula of a sum of terms; ``axes`` holds a
    letter per axis (repeats are replaced by fresh letters)."""
    def sub(i: str) -> str:
        return "_" + i if i else ""

    def lhs(out_i, in_i):
        second = split_second(of)
        if second:  # d2C/dW^1_jl dW^2_im
            return f"d2{second[0]}/d{second[1]}{sub(out_i)} d{wrt}{sub(in_i)}"
        return f"d{of}{sub(out_i)}/d{wrt}{sub(in_i)}"

    return _formula(of, wrt, axes, terms, lhs,
                    lambda parts: " ".join(_indexed(s, lab) for s, lab in parts) or "1",
                    lambda summed, body: f"sum_{''.join(summed)} {body}")


def _indexed(symbol: str, labels: str) -> str:
    if not labels:
        return symbol
    if " " in symbol or "/" in symbol:
        symbol = f"[{symbol}]"
    return f"{symbol}_{labels}"


_GREEK = ("sigma", "delta", "tanh", "gamma", "beta", "mu")


def latex_symbol(symbol: str) -> str:
    """A display symbol (``sigma'(z^1)``, ``W^2``, ``diag(p)``) as LaTeX."""
    s = symbol
    s = re.sub(r"\b(softplus|lrelu|relu|softmax|diag|id)\b", r"\\operatorname{\1}", s)
    for g in _GREEK:
        s = re.sub(rf"\b{g}\b", rf"\\{g}", s)
    s = re.sub(r"\^([A-Za-z0-9]+)", r"^{\1}", s)
    s = s.replace("(.)", r"\odot")
    return s


def _latex_sub(base: str, labels: str) -> str:
    base = latex_symbol(base)
    if not labels:
        return base
    if "(" in base or " " in base:
        base = f"\\left[{base}\\right]"
    return f"{base}_{{{labels}}}"


def latex(of: str, wrt: str, axes: str, terms: Sequence[TermData]) -> str:
    r"""The entry formula as LaTeX, e.g.
    ``\frac{\partial z_{i}}{\partial W_{kj}} = a_{j} \delta_{ik}``."""
    def lhs(out_i, in_i):
        second = split_second(of)
        if second:  # \frac{\partial^2 C}{\partial W^1_{jl} \partial W^2_{im}}
            return (f"\\frac{{\\partial^2 {latex_symbol(second[0])}}}"
                    f"{{\\partial {_latex_sub(second[1], out_i)} "
                    f"\\partial {_latex_sub(wrt, in_i)}}}")
        return (f"\\frac{{\\partial {_latex_sub(of, out_i)}}}"
                f"{{\\partial {_latex_sub(wrt, in_i)}}}")

    return _formula(of, wrt, axes, terms, lhs,
                    lambda parts: " ".join(_latex_sub(s, lab) for s, lab in parts) or "1",
                    lambda summed, body: f"\\sum_{{{','.join(summed)}}} {body}")
