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
