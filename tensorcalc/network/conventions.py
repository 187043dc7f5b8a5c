"""Course conventions as options: weights stored (in, out), samples as columns, biases as
``(n, 1)`` columns, other parameter names. Parameters and data go to a student's function in
the student's convention, and what it returns comes back in the library's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import UnknownNameError

CHOICES = {"weights": ("out_in", "in_out"), "samples": ("rows", "columns"),
           "bias": ("flat", "column")}


@dataclass(frozen=True)
class Convention:
    """How a student stores things; the defaults are the library's own (``weights=None``: each
    weight as the network stores it)."""

    weights: str | None = "out_in"
    samples: str = "rows"
    bias: str = "flat"
    names: Mapping[str, str] | None = None
    #: How the network stores each weight that is not (out, in) (``{"W1": "in_out"}``).
    stored: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        for option, choices in CHOICES.items():
            if getattr(self, option) not in choices and not (option == "weights"
                                                             and self.weights is None):
                raise UnknownNameError(f"unknown {option}={getattr(self, option)!r}; valid "
                                       f"values are {', '.join(map(repr, choices))}.")

    @property
    def is_default(self) -> bool:
        return (self.weights in (None, "out_in"), self.samples, self.bias, self.names) == (
            True, "rows", "flat", None)

    @classmethod
    def of(cls, net, **options) -> Convention:
        """The student's ``options`` for this network (knowing how it stores its weights)."""
        stored = {node.names["W"]: node.layer.weights for top in net.nodes
                  for node in top.walk() if getattr(node.layer, "weights", "out_in") != "out_in"}
        return cls(**options, stored=stored)

    def name(self, ours: str) -> str:
        return dict(self.names or {}).get(ours, ours)

    def _flip(self, name: str, value: np.ndarray) -> bool:
        """Whether weight ``name`` is stored the other way round from the student's."""
        stored = dict(self.stored or {}).get(name, "out_in")
        return (name[:1] == "W" and value.ndim == 2 and self.weights is not None
                and self.weights != stored)

    def _to_student(self, name: str, value: np.ndarray) -> np.ndarray:
        if self._flip(name, value):
            return value.T
        if name[:1] == "b" and value.ndim == 1 and self.bias == "column":
            return value[:, None]
        return value

    def params(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The library's parameters in the student's convention (writable copies)."""
        return {self.name(k): np.array(self._to_student(k, np.asarray(v)))
                for k, v in params.items()}

    def from_student(self, name: str, value) -> np.ndarray:
        """One of the student's parameters or gradients, in the library's convention."""
        value = np.asarray(value)
        if self._flip(name, value):
            return value.T
        if name[:1] == "b" and value.ndim == 2 and value.shape[1:] == (1,):
            return value[:, 0]
        return value

    def read(self, student: Mapping[str, object], ours: list[str] | None = None) -> dict:
        """A student's mapping keyed by the library's names (``ours``: which to expect)."""
        back = {v: k for k, v in dict(self.names or {}).items()}
        keys = ours if ours is not None else [back.get(k, k) for k in student]
        return {k: self.from_student(k, student[self.name(k)]) for k in keys
                if self.name(k) in student}

    def data(self, x, y):
        """x and y in the student's sample convention: columns transpose a batch (and make
        one sample a column); class indices stay as they are."""
        if self.samples == "rows":
            return x, y
        x = np.asarray(x)
        x = x.T if x.ndim == 2 else x[:, None]
        y_arr = np.asarray(y)
        if y_arr.dtype.kind == "f":
            y = y_arr.T if y_arr.ndim == 2 else (y_arr[:, None] if y_arr.ndim == 1 else y_arr)
        return x, y
