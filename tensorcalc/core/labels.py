"""Index labels: fresh single-character labels, and the kind names that follow from ranks.

Bookkeeping only, no arrays: the chain rule and the contraction code share it.
"""

from __future__ import annotations

import opt_einsum as oe

#: Label letters in the order fresh labels are handed out.
LETTERS = "ijklmnpqrstuvwxyzabcdefghoABCDEFGHIJKLMNOPQRSTUVWXYZ"

KIND_NAMES = {
    (0, 0): "scalar-by-scalar",
    (0, 1): "gradient",
    (0, 2): "scalar-by-matrix",
    (1, 0): "vector-by-scalar",
    (1, 1): "jacobian",
    (1, 2): "vector-by-matrix",
    (2, 0): "matrix-by-scalar",
    (2, 1): "matrix-by-vector",
    (2, 2): "matrix-by-matrix",
}


def kind_name(out_rank: int, in_rank: int) -> str:
    """The kind of a derivative of a rank-``out_rank`` tensor by a rank-``in_rank`` tensor."""
    return KIND_NAMES.get((out_rank, in_rank), f"rank{out_rank}-by-rank{in_rank}")


def fresh_labels(n: int, taken: set[str] | str = ()) -> list[str]:
    """``n`` single-character labels not in ``taken``, readable letters first."""
    taken = set(taken)
    out: list[str] = []
    k = 0
    while len(out) < n:
        c = LETTERS[k] if k < len(LETTERS) else oe.get_symbol(k + 200)
        k += 1
        if c not in taken:
            taken.add(c)
            out.append(c)
    return out


def derivative_name(of: str, wrt: str) -> str:
    """``dy/dx`` for a derivative of ``of`` by ``wrt``; a derivative of a derivative reads as
    a second derivative, ``d2C/dW^1 dW^2`` (not ``ddC/dW^1/dW^2``).

    >>> derivative_name("a^1", "z^1"), derivative_name("dC/dW^1", "W^2")
    ('da^1/dz^1', 'd2C/dW^1 dW^2')
    """
    second = split_second(of)
    if second:
        return f"d2{second[0]}/d{second[1]} d{wrt}"
    return f"d{of}/d{wrt}"


def split_second(of: str) -> tuple[str, str] | None:
    """``("C", "W^1")`` when ``of`` names a first derivative ``dC/dW^1`` (so that a
    derivative of it is a second derivative), else None."""
    top, slash, first = of.partition("/d")
    if of.startswith("d") and slash and first and "/" not in first and len(top) > 1:
        return top[1:], first
    return None
