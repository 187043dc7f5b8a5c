"""The student's side of a network's parameters: the names they use and the shapes they hold
the arrays in.

A course keeps a batch norm's gain as ``bngain`` of shape (1, 64), a bias as (1, n) or (n, 1),
a 2-d norm's parameters as (1, C, 1, 1). The network computes with each layer's own shape and
remembers the student's, so that checks compare and report in the student's shape and names,
and a gradient in any other shape is an error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.validate import as_float_array, plain
from ..errors import ShapeMismatchError, TensorcalcError


def same_entries(shape: Sequence[int], other: Sequence[int]) -> bool:
    """True when the two shapes differ at most in singleton axes: (64,), (1, 64), (64, 1)."""
    return [n for n in shape if n != 1] == [n for n in other if n != 1]


@dataclass(frozen=True)
class Student:
    """How the student holds the parameters: ``names`` (ours -> theirs), ``shapes`` (ours ->
    the shape of their array) and ``order`` (ours, in the order of their list)."""

    names: Mapping[str, str] = field(default_factory=dict)
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    order: tuple[str, ...] = ()

    def name(self, ours: str) -> str:
        return self.names.get(ours, ours)

    def shape(self, ours: str, default: tuple[int, ...]) -> tuple[int, ...]:
        return self.shapes.get(ours, default)

    def renamed(self, names: Mapping[str, str] | None) -> Student:
        return Student({**self.names, **dict(names or {})}, self.shapes, self.order)


def _keyed(params, names, expected: Mapping) -> tuple[dict, dict, tuple[str, ...]]:
    """The student's arrays keyed by our names, the names ours -> theirs, and the order."""
    ours = list(expected)
    if isinstance(params, (list, tuple)):
        if names is not None and (isinstance(names, (str, Mapping))
                                  or not isinstance(names, (list, tuple))):
            raise TensorcalcError("with params given as a list, names must list this stack's "
                                  f"parameter names in the same order (from {', '.join(ours)}).")
        order = list(ours if names is None else names)
        unknown = [n for n in order if n not in expected]
        if len(order) != len(params) or unknown or len(set(order)) != len(order):
            raise TensorcalcError(
                f"params lists {len(params)} arrays for the names {order}; this stack's "
                f"parameters are {', '.join(ours)}" + (f" (unknown {unknown})" if unknown else "")
                + ": give one array per parameter, each name once.")
        missing = [n for n in ours if n not in order]
        if missing:
            raise TensorcalcError(f"params has no array for {missing}; this stack's parameters "
                                  f"are {', '.join(ours)}.")
        return dict(zip(order, params)), {}, tuple(order)
    if names is not None and not isinstance(names, Mapping):
        raise TensorcalcError("names must map tensorcalc's names to yours ({'gamma1': 'bngain'})"
                              " when params is a mapping; a list of names goes with a list of "
                              "params.")
    renames = dict(names or {})
    unknown = sorted(set(renames) - set(ours) - {"x"})
    if unknown:
        raise TensorcalcError(f"names maps {unknown}, which this stack does not have; its "
                              f"parameters are {', '.join(ours)}.")
    theirs = {k: renames.get(k, k) for k in ours}
    missing = sorted(theirs[k] for k in ours if theirs[k] not in params)
    extra = sorted(set(params) - set(theirs.values()))
    if missing or extra:
        hint = "; map tensorcalc's names to yours with names={...}" if names is None else ""
        raise TensorcalcError(
            f"this stack's parameters are {', '.join(theirs[k] for k in ours)}; "
            + (f"missing {missing}" if missing else "") + ("; " if missing and extra else "")
            + (f"unexpected {extra}" if extra else "") + hint + ".")
    return {k: params[theirs[k]] for k in ours}, renames, tuple(ours)


def read_params(params, names, expected: Mapping[str, tuple[str, tuple[int, ...]]]
                ) -> tuple[dict[str, np.ndarray], Student]:
    """A student's parameters (a mapping in their names, or a list in the order of ``names``)
    as arrays keyed by our names in each layer's shape (``expected``: ours -> (where, shape)),
    and what the network must remember of the student's side."""
    keyed, renames, order = _keyed(params, names, expected)
    student = Student(renames, {}, order)
    arrays, shapes = {}, {}
    for ours, (where, shape) in expected.items():
        arr = as_float_array(plain(keyed[ours]), student.name(ours))
        if arr.shape != tuple(shape):
            if not same_entries(arr.shape, shape):
                raise ShapeMismatchError(f"{student.name(ours)} must have shape {tuple(shape)} "
                                         f"for {where}; got {arr.shape}.")
            shapes[ours] = arr.shape
            arr = arr.reshape(shape)
        arrays[ours] = arr
    return arrays, Student(renames, shapes, order)


def student_of(names, expected) -> Student:
    """The student's side when there are no arrays to read (``names`` alone)."""
    if isinstance(names, (list, tuple)):
        return Student({}, {}, tuple(names))
    return Student(dict(names or {}), {}, tuple(expected))
