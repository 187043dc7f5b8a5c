"""The value of a sum of terms: each term contracted along its own path (window relations
lowered by :mod:`tensorcalc.core.windows`), the results added."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .contract import contract_full
from .term import Factor, Term, support_size
from .windows import program


def contract_terms(terms, axes: Sequence[int], sizes: dict, dtype) -> np.ndarray:
    """The sum over ``terms`` of each term contracted along its own path to its own labels on
    the axes ``axes`` (a label that repeats there is a delta, expanded; a label no factor
    carries is a constant axis, broadcast). No term is densified beyond that result."""
    total = None
    for t in terms:
        target = "".join(t.axis_labels[a] for a in axes)
        coef = t.coef
        if t.relations:
            value = program(t, target, sizes, dtype)(*t.operand_arrays())
        else:
            operands = [(f.array, f.labels) for f in t.factors]
            if coef != 1.0 and operands:  # scale the smallest factor, not the result
                k = min(range(len(operands)), key=lambda j: operands[j][0].size)
                operands[k] = (operands[k][0] * np.asarray(coef, dtype=dtype), operands[k][1])
                coef = 1.0
            value = contract_full(operands, target, sizes, dtype)
        if total is None:  # a fresh contiguous array to add the other terms into in place
            fresh = (isinstance(value, np.ndarray) and value.flags.owndata
                     and value.flags.c_contiguous and value.dtype == dtype
                     and all(value is not f.array for f in t.factors))
            total = value if fresh else np.array(value, dtype=dtype, order="C")
            if coef != 1.0:
                total *= np.asarray(coef, dtype=dtype)
        elif coef == 1.0:
            total += value
        elif coef == -1.0:
            total -= value
        else:
            total += value * np.asarray(coef, dtype=dtype)
    return np.asarray(total, dtype=dtype)


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
