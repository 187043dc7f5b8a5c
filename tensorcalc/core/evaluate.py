"""The value of a sum of terms: each term contracted along its own path (window relations
lowered by :mod:`tensorcalc.core.windows`), the results added."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .contract import ascii_spec, contract_full
from .term import Factor, Term, support_size
from .windows import program


def contract_terms(terms, axes: Sequence[int], sizes: dict, dtype) -> np.ndarray:
    """The sum over ``terms`` of each term contracted along its own path to its own labels on
    the axes ``axes`` (a label that repeats there is a delta: the term is contracted to its
    distinct labels and added into the diagonal view of the sum; a label no factor carries is
    a constant axis, broadcast). No term is densified beyond that result: the terms without
    deltas go first, the first of them becomes the sum, the rest are added into it in place."""
    targets = [(t, "".join(t.axis_labels[a] for a in axes)) for t in terms]
    targets.sort(key=lambda tt: len(set(tt[1])) < len(tt[1]) and not tt[0].relations)
    total = None
    for t, target in targets:
        unique = target if t.relations else "".join(dict.fromkeys(target))
        value, coef = _value(t, unique, sizes, dtype)
        if total is None and unique == target:  # a fresh contiguous array to add into
            fresh = (isinstance(value, np.ndarray) and value.flags.writeable
                     and value.flags.c_contiguous and value.dtype == dtype
                     and not any(np.may_share_memory(value, f.array) for f in t.factors))
            total = value if fresh else np.array(value, dtype=dtype, order="C")
            if coef != 1.0:
                total *= np.asarray(coef, dtype=dtype)
            continue
        if total is None:
            total = np.zeros(tuple(sizes[c] for c in target), dtype=dtype)
        view = total if unique == target else np.einsum(ascii_spec([target], unique), total)
        if coef == 1.0:
            view += value
        elif coef == -1.0:
            view -= value
        else:
            view += value * np.asarray(coef, dtype=dtype)
    return np.asarray(total, dtype=dtype)


def _value(t: Term, target: str, sizes: dict, dtype):
    """One term contracted to ``target``, and the coefficient still to apply (folded into
    the smallest factor where there is one)."""
    if t.relations:
        return program(t, target, sizes, dtype)(*t.operand_arrays()), t.coef
    operands = [(f.array, f.labels) for f in t.factors]
    coef = t.coef
    if coef != 1.0 and operands:  # scale the smallest factor, not the result
        k = min(range(len(operands)), key=lambda j: operands[j][0].size)
        operands[k] = (operands[k][0] * np.asarray(coef, dtype=dtype), operands[k][1])
        coef = 1.0
    return contract_full(operands, target, sizes, dtype), coef


#: Dense entries up to which the structural zeros of index relations are counted exactly.
RELATION_COUNT_LIMIT = 1 << 22


def structural_zero_fraction(terms, sizes: dict, shape: tuple[int, ...]) -> float:
    """Fraction of the dense entries that no term can make non-zero: off the union of the
    terms' delta patterns, and off their relations where the tensor is small enough to count
    (the network evaluated with ones for every factor)."""
    total = math.prod(shape)
    if total == 0:
        return 0.0
    if any(t.relations for t in terms) and total <= RELATION_COUNT_LIMIT:
        ones = tuple(Term(tuple(Factor(np.ones(f.array.shape), f.labels, f.symbol)
                                for f in t.factors), t.out_labels, t.in_labels, 1.0,
                          t.relations) for t in terms)
        dense = contract_terms(ones, tuple(range(len(shape))), sizes, np.float64)
        return 1.0 - np.count_nonzero(dense) / total
    return 1.0 - support_size(terms, sizes) / total
