"""Recorded contractions replayed on new arrays: the label algebra of a computation, done once.

Which terms a chain of derivatives builds, and so which einsum each contraction runs, depends
on the labels and shapes of its leaves (the local derivatives it starts from), never on their
numbers. :func:`compile_program` takes a :class:`~tensorcalc.core.record.Recording` of one
computation and the leaves it started from (``key -> arrays``) and keeps, for each recorded
contraction, its terms without their arrays and where each array comes from: a leaf's array
(by key and position), an earlier contraction's result, or a scalar constant (the size a
summed label contributes). :func:`run_program` replays the contractions on the leaves of a
new call with the same structure, without building any derivative again, and
:func:`program_outputs` rebuilds the derivatives the computation ended with (given to
:func:`compile_program` as ``outputs``) from the new leaves and results.

A recording that reads an array of any other origin is not replayable (the array might depend
on the data): :func:`compile_program` returns None for it, and the caller computes afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .derivative import Derivative
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
    leaves: tuple  # the leaf keys the steps and outputs read
    outputs: tuple = ()  # (skeletons, sizes, of, wrt, dtype) per output derivative


def compile_program(rec: Recording, leaves: dict, outputs=()) -> Program | None:
    """The replayable program of ``rec``, whose leaves are ``leaves`` (key -> the operand
    arrays of that leaf, in order), and of the derivatives ``outputs`` built from them; None
    when a step or an output reads an array of any other origin."""
    where: dict[int, tuple] = {}
    for key, arrays in leaves.items():
        for index, array in enumerate(arrays):
            where.setdefault(id(array), ("leaf", key, index))
    results: dict[int, int] = {}
    steps, used = [], set()

    def skeletons(terms):
        out = []
        for t in terms:
            sources = []
            for array in t.operand_arrays():
                source = _source(array, where, results, rec)
                if source is None:
                    return None
                if source[0] == "leaf":
                    used.add(source[1])
                sources.append(source)
            out.append(Skeleton(tuple((f.labels, f.symbol) for f in t.factors), t.out_labels,
                                t.in_labels, t.coef, t.relations, tuple(sources)))
        return tuple(out)

    for k, step in enumerate(rec.steps):
        found = skeletons(step.terms)
        if found is None:
            return None
        steps.append((found, step.axes, step.sizes, step.dtype))
        results[id(_owner(step.result))] = k
    ends = []
    for d in outputs:
        found = skeletons(d.terms)
        if found is None:
            return None
        ends.append((found, dict(d.sizes), d.of, d.wrt, d._dtype))
    return Program(tuple(steps), tuple(k for k in leaves if k in used), tuple(ends))


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


def _terms(skeletons, leaves: dict, values: list) -> list[Term]:
    """Terms from their skeletons, their arrays taken from ``leaves`` and step ``values``."""
    def operand(source):
        if source[0] == "leaf":
            return leaves[source[1]][source[2]]
        if source[0] == "step":
            return values[source[1]].reshape(source[2])
        return source[1]

    terms = []
    for s in skeletons:
        arrays = [operand(source) for source in s.sources]
        factors = tuple(Factor(a, labels, symbol) for a, (labels, symbol) in zip(arrays, s.factors))
        rest = iter(arrays[len(s.factors):])
        relations = tuple(replace(r, indices=next(rest)) if isinstance(r, Lookup) else r
                          for r in s.relations)
        terms.append(Term(factors, s.out_labels, s.in_labels, s.coef, relations))
    return terms


def run_program(program: Program, leaves: dict) -> list[np.ndarray]:
    """Every step's result, replayed on new leaf arrays (``key -> arrays``, as compiled)."""
    values: list[np.ndarray] = []
    for skeletons, axes, sizes, dtype in program.steps:
        values.append(contract_terms(_terms(skeletons, leaves, values), axes, sizes, dtype))
    return values


def program_outputs(program: Program, leaves: dict, values: list) -> list[Derivative]:
    """The output derivatives, rebuilt on new leaf arrays and the steps' new ``values``."""
    return [Derivative._make(_terms(skeletons, leaves, values), sizes, of, wrt, dtype)
            for skeletons, sizes, of, wrt, dtype in program.outputs]
