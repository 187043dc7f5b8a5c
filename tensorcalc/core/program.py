"""Recorded contractions replayed on new arrays: the label algebra of a computation, done once.

Which terms a chain of derivatives builds, and so which einsum each contraction runs, depends
on the labels and shapes of its leaves (the local derivatives it starts from), never on their
numbers. :func:`compile_program` takes a :class:`~tensorcalc.core.record.Recording` of one
computation and the leaves it started from (``key -> arrays``) and keeps, for each recorded
contraction, its terms without their arrays and where each array comes from: a leaf's array
(by key and position), an earlier contraction's result, or a scalar constant (the size a
summed label contributes). :func:`run_program` replays the contractions on the leaves of a
new call with the same structure, without building any derivative again.

A recording that reads an array of any other origin is not replayable (the array might depend
on the data): :func:`compile_program` returns None for it, and the caller computes afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .evaluate import contract_terms
from .record import Recording
from .term import Factor, Lookup, Term


@dataclass(frozen=True)
class Skeleton:
    """A term without its arrays: each factor's labels and symbol, and where each operand
    array (:meth:`~tensorcalc.core.term.Term.operand_arrays` order) comes from."""

    factors: tuple[tuple[str, str], ...]
    out_labels: str
    in_labels: str
    coef: float
    relations: tuple
    sources: tuple  # ("leaf", key, index) | ("step", k, shape) | ("const", array)


@dataclass(frozen=True)
class Program:
    steps: tuple  # (skeletons, axes, sizes, dtype) per contraction
    leaves: tuple  # the leaf keys the steps read


def compile_program(rec: Recording, leaves: dict) -> Program | None:
    """The replayable program of ``rec``, whose leaves are ``leaves`` (key -> the operand
    arrays of that leaf, in order); None when a step reads an array of any other origin."""
    where: dict[int, tuple] = {}
    for key, arrays in leaves.items():
        for index, array in enumerate(arrays):
            where.setdefault(id(array), ("leaf", key, index))
    results: dict[int, int] = {}
    steps, used = [], set()
    for k, step in enumerate(rec.steps):
        skeletons = []
        for t in step.terms:
            sources = []
            for array in t.operand_arrays():
                source = _source(array, where, results, rec)
                if source is None:
                    return None
                if source[0] == "leaf":
                    used.add(source[1])
                sources.append(source)
            skeletons.append(Skeleton(tuple((f.labels, f.symbol) for f in t.factors),
                                      t.out_labels, t.in_labels, t.coef, t.relations,
                                      tuple(sources)))
        steps.append((tuple(skeletons), step.axes, step.sizes, step.dtype))
        results[id(_owner(step.result))] = k
    return Program(tuple(steps), tuple(k for k in leaves if k in used))


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _source(array: np.ndarray, where: dict, results: dict, rec: Recording) -> tuple | None:
    """Where ``array`` comes from: a leaf, an earlier result (or a view of all of one that
    at most reshapes it), a scalar constant; None if from nowhere known."""
    if id(array) in where:
        return where[id(array)]
    k = results.get(id(_owner(array)))
    if k is not None:
        result = rec.steps[k].result
        same = (array.__array_interface__["data"][0] == result.__array_interface__["data"][0]
                and array.size == result.size)
        if same and ((array.shape, array.strides) == (result.shape, result.strides)
                     or (array.flags.c_contiguous and result.flags.c_contiguous)):
            return ("step", k, array.shape)
        return None
    if np.ndim(array) == 0:
        return ("const", np.array(array))
    return None


def run_program(program: Program, leaves: dict) -> list[np.ndarray]:
    """Every step's result, replayed on new leaf arrays (``key -> arrays``, as compiled)."""
    values: list[np.ndarray] = []

    def operand(source):
        if source[0] == "leaf":
            return leaves[source[1]][source[2]]
        if source[0] == "step":
            return values[source[1]].reshape(source[2])
        return source[1]

    for skeletons, axes, sizes, dtype in program.steps:
        terms = []
        for s in skeletons:
            arrays = [operand(source) for source in s.sources]
            factors = tuple(Factor(a, labels, symbol)
                            for a, (labels, symbol) in zip(arrays, s.factors))
            rest = iter(arrays[len(s.factors):])
            relations = tuple(replace(r, indices=next(rest)) if isinstance(r, Lookup) else r
                              for r in s.relations)
            terms.append(Term(factors, s.out_labels, s.in_labels, s.coef, relations))
        values.append(contract_terms(terms, axes, sizes, dtype))
    return values
