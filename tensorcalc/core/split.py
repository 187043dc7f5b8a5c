"""A large result as one matrix product written in its own layout.

A Hessian block ``J_p^T H J_q`` is a sum over the batch (and logits) of a left network that
carries only ``p``'s labels and a right network that carries only ``q``'s: the result, read as a
matrix ``(p entries, q entries)``, is ``X^T Y`` with ``X`` and ``Y`` the two halves contracted
to ``(shared summed labels, their own result labels)``. Done that way the product lands in the
result's own axis order (no transposed copy of the largest array), and the two halves are
contracted on their own, so the path search never pairs a half with the other's factors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

#: Results with fewer entries than this take the ordinary path (the split saves a copy of the
#: result; below this size the copy costs less than a second path).
SPLIT_MIN = 1 << 16
#: A product summing fewer entries than this is an outer product, which BLAS writes more
#: slowly than numpy's broadcasting (measured 7.1 ms against 4.3 ms for 5,120 x 784 at 1).
SHARED_MIN = 4

Operand = tuple[np.ndarray, str]


def _halves(operands: Sequence[Operand], result: str, sizes: dict):
    """The cut of ``result`` into a prefix and a suffix such that every operand carries
    result labels of one side only, with the operands of each side, choosing the cut whose
    halves hold the fewest entries; None if there is no such cut."""
    best, best_size = None, None
    for cut in range(1, len(result)):
        left_set, right_set = set(result[:cut]), set(result[cut:])
        left = [op for op in operands if set(op[1]) & set(result) <= left_set]
        right = [op for op in operands if set(op[1]) & set(result) <= right_set]
        if (len(left) + len(right) != len(operands) or not _covers(left, left_set)
                or not _covers(right, right_set)):
            continue
        shared = {c for _, lab in left for c in lab} & {c for _, lab in right for c in lab}
        s = math.prod(sizes[c] for c in shared)
        size = s * (math.prod(sizes[c] for c in left_set) + math.prod(sizes[c] for c in right_set))
        if best_size is None or size < best_size:
            best, best_size = (cut, left, right), size
    return best


def _covers(side: Sequence[Operand], labels: set) -> bool:
    return labels <= {c for _, lab in side for c in lab}


def matrix_halves(operands: Sequence[Operand], result: str, sizes: dict,
                  contract: Callable[[Sequence[Operand], str], np.ndarray]):
    """``(X, Y, cut)``, matrices of shapes ``(s, p)`` and ``(s, q)`` with ``X^T Y`` the contraction
    of ``operands`` to ``result`` read as a ``(p, q)`` matrix (see the module docstring); None
    when the result is small, no cut of it separates the operands, or the halves share fewer
    than ``SHARED_MIN`` summed entries (an outer product). Operands that carry no
    result label (a scalar, a summed-only factor) go with the half that carries more of their
    labels (the left on a tie); ``cut`` is the
    length of the result's prefix that ``X`` carries."""
    if math.prod(sizes[c] for c in result) < SPLIT_MIN or len(operands) < 2:
        return None
    carrying = [op for op in operands if set(op[1]) & set(result)]
    loose = [op for op in operands if not set(op[1]) & set(result)]
    found = _halves(carrying, result, sizes)
    if found is None:
        return None
    cut, left, right = found
    left_labels = {c for _, lab in left for c in lab}
    right_labels = {c for _, lab in right for c in lab}
    if math.prod(sizes[c] for c in (left_labels & right_labels) - set(result)) < SHARED_MIN:
        return None
    for op in loose:  # with the half that already carries more of its labels
        side, labels = ((right, right_labels) if len(set(op[1]) - right_labels)
                        < len(set(op[1]) - left_labels) else (left, left_labels))
        side.append(op)
        labels.update(op[1])
    shared = "".join(sorted((left_labels & right_labels) - set(result)))
    X = contract(left, shared + result[:cut])
    Y = contract(right, shared + result[cut:])
    if np.may_share_memory(X, Y):  # numpy's A^T A path for one buffer costs a triangle copy
        Y = Y.copy()
    s = math.prod(sizes[c] for c in shared)
    p, q = math.prod(sizes[c] for c in result[:cut]), math.prod(sizes[c] for c in result[cut:])
    return X.reshape(s, p), Y.reshape(s, q), cut


def split_product(operands: Sequence[Operand], result: str, sizes: dict,
                  contract: Callable[[Sequence[Operand], str], np.ndarray]):
    """``operands`` contracted to ``result`` (labels unique, each carried by an operand) as
    one matrix product ``X^T Y`` of :func:`matrix_halves`, or None where that gives None.

    >>> import numpy as np
    >>> from tensorcalc.core.contract import contract
    >>> a, b = np.ones((4, 300)), np.arange(1200.0).reshape(4, 300)
    >>> out = split_product([(a, "ni"), (b, "nj")], "ij", {"n": 4, "i": 300, "j": 300}, contract)
    >>> bool(np.array_equal(out, np.einsum("ni,nj->ij", a, b)))
    True
    """
    halves = matrix_halves(operands, result, sizes, contract)
    if halves is None:
        return None
    X, Y, _ = halves
    return np.matmul(X.T, Y).reshape(tuple(sizes[c] for c in result))
