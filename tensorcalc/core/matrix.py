"""Matrix notation of a contraction: matrix products, transposes, outer, inner and Hadamard
products, scalar multiples and sums over an axis, read off the labels of its operands."""

from __future__ import annotations

import re
from collections.abc import Sequence


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
    if not la:  # a scalar multiple
        return f"{_wrap(ea)} {_wrap(eb)}", lb
    if la == lb and not summed:
        return f"{_wrap(ea)} (.) {_wrap(eb)}", la
    if len(la) == 1 and len(lb) == 1 and not shared:
        return f"{_wrap(ea)} {transpose(eb)}", la + lb
    if len(summed) != 1 or shared != summed:
        return None
    (k,) = summed
    if len(la) == 1 and len(lb) == 1:  # an inner product
        return f"{transpose(ea)} {_wrap(eb)}", ""
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
    if not items:
        return None
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




def sum_notation(terms: Sequence[tuple[float, Sequence[tuple[str, str]], str]]) -> str | None:
    """A sum of terms ``(coefficient, operands, result labels)`` in matrix notation, or None
    when some term is not a matrix expression."""
    pieces = []
    for n, (coef, operands, result) in enumerate(terms):
        if len(result) == 2 and result[0] == result[1]:  # a delta between the two axes
            expr = matrix_notation(operands, result[0])
            expr = None if expr is None else f"diag({expr})"
        else:
            expr = matrix_notation(operands, result)
        if expr is None:
            return None
        size = "" if abs(coef) == 1 else f"{abs(coef):g} "
        sign = ("-" if coef < 0 else "") if n == 0 else ("- " if coef < 0 else "+ ")
        pieces.append(sign + size + (expr if not size else _wrap(expr)))
    return " ".join(pieces)
