"""The value of a sum of terms: each term contracted along its own path (window relations
lowered by :mod:`tensorcalc.core.windows`), the results added."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .contract import contract_full
from .windows import program


def contract_terms(terms, axes: Sequence[int], sizes: dict, dtype) -> np.ndarray:
    """The sum over ``terms`` of each term contracted along its own path to its own labels on
    the axes ``axes`` (a label that repeats there is a delta, expanded; a label no factor
    carries is a constant axis, broadcast). No term is densified beyond that result."""
    total = None
    for t in terms:
        target = "".join(t.axis_labels[a] for a in axes)
        if t.relations:
            value = program(t, target, sizes, dtype)(*(f.array for f in t.factors))
        else:
            value = contract_full([(f.array, f.labels) for f in t.factors], target, sizes, dtype)
        if t.coef != 1.0:
            value = value * np.asarray(t.coef, dtype=dtype)
        total = value if total is None else total + value
    return np.asarray(total, dtype=dtype)
