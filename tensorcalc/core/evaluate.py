"""The value of a sum of terms: each term contracted along its own path (window relations
lowered by :mod:`tensorcalc.core.windows`), the results added."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .contract import ascii_spec, contract, contract_full, full_operands
from .record import active
from .split import SPLIT_MIN, matrix_halves
from .term import Factor, Term, support_size
from .windows import program


def contract_terms(terms, axes: Sequence[int], sizes: dict, dtype) -> np.ndarray:
    """The sum over ``terms`` of each term contracted along its own path to its own labels on
    the axes ``axes`` (a label that repeats there is a delta: the term is contracted to its
    distinct labels and added into the diagonal view of the sum; a label no factor carries is
    a constant axis, broadcast). No term is densified beyond that result. Large terms that
    split into two halves at the same cut of the result (:mod:`tensorcalc.core.split`) are
    stacked into one matrix product; that product, or else the first term without deltas,
    becomes the sum, and the other terms are added into it in place. Inside
    :func:`~tensorcalc.core.record.recording` the call is noted."""
    total = _sum(terms, axes, sizes, dtype)
    rec = active()
    if rec is not None:
        rec.add(terms, axes, sizes, dtype, total)
    return total


def _sum(terms, axes: Sequence[int], sizes: dict, dtype) -> np.ndarray:
    targets = [(t, "".join(t.axis_labels[a] for a in axes)) for t in terms]
    total, rest = _stacked(targets, sizes, dtype)
    rest.sort(key=lambda tt: len(set(tt[1])) < len(tt[1]) and not tt[0].relations)
    for t, target in rest:
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


def _stacked(targets, sizes: dict, dtype):
    """The terms (no relations, no deltas) whose halves share a cut, summed as one product of
    the stacked halves per cut; and the other ``(term, target)`` pairs."""
    groups: dict = {}
    rest = []
    for t, target in targets:
        halves = None
        if (not t.relations and len(set(target)) == len(target)
                and math.prod(sizes[c] for c in target) >= SPLIT_MIN and len(t.factors) > 1):
            operands, out = full_operands(_scaled(t, dtype), target, sizes, dtype)
            halves = matrix_halves(operands, out, sizes, contract)
        if halves is None:
            rest.append((t, target))
        else:
            X, Y, cut = halves
            groups.setdefault((target, cut), []).append((X, Y))
    total = None
    for (target, _), pairs in groups.items():
        X = pairs[0][0] if len(pairs) == 1 else np.concatenate([x for x, _ in pairs])
        Y = pairs[0][1] if len(pairs) == 1 else np.concatenate([y for _, y in pairs])
        value = np.matmul(X.T, Y).reshape(tuple(sizes[c] for c in target))
        if total is None:
            total = np.asarray(value, dtype=dtype)
        else:
            total += value
    return total, rest


def _scaled(t: Term, dtype) -> list:
    """The term's operands, its coefficient folded into the smallest factor."""
    operands = [(f.array, f.labels) for f in t.factors]
    if t.coef != 1.0 and operands:  # scale the smallest factor, not the result
        k = min(range(len(operands)), key=lambda j: operands[j][0].size)
        operands[k] = (operands[k][0] * np.asarray(t.coef, dtype=dtype), operands[k][1])
    return operands


def _value(t: Term, target: str, sizes: dict, dtype):
    """One term contracted to ``target``, and the coefficient still to apply (folded into
    the smallest factor where there is one)."""
    if t.relations:
        return program(t, target, sizes, dtype)(*t.operand_arrays()), t.coef
    if not t.factors:
        return contract_full([], target, sizes, dtype), t.coef
    return contract_full(_scaled(t, dtype), target, sizes, dtype), 1.0


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
