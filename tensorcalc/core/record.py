"""Recording evaluations: while :func:`recording` is active, every sum of terms that is
contracted to an array (:func:`tensorcalc.core.evaluate.contract_terms`, behind ``.dense()``
and ``.contracted()``) is noted with its terms and its result, in order. A recording is what
:mod:`tensorcalc.core.program` turns into a program that replays those contractions on new
arrays of the same structure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Step:
    """One contraction: ``terms`` summed on ``axes``, and the array it gave."""

    terms: tuple
    axes: tuple[int, ...]
    sizes: dict
    dtype: np.dtype
    result: np.ndarray


@dataclass
class Recording:
    """The contractions noted so far, in the order they ran."""

    steps: list[Step] = field(default_factory=list)

    def add(self, terms, axes, sizes, dtype, result) -> None:
        self.steps.append(Step(tuple(terms), tuple(axes), dict(sizes), np.dtype(dtype), result))

    @property
    def last(self) -> int:
        """The index of the latest step."""
        return len(self.steps) - 1


_ACTIVE: ContextVar[Recording | None] = ContextVar("tensorcalc_recording", default=None)


def active() -> Recording | None:
    """The recording in progress, if any."""
    return _ACTIVE.get()


@contextmanager
def recording() -> Iterator[Recording]:
    """Note every contraction made inside the block.

    >>> import numpy as np, tensorcalc as tc
    >>> D = tc.Derivative.from_array(np.ones((2, 3)), out_shape=(2,), in_shape=(3,))
    >>> with recording() as rec:
    ...     _ = D.dense()
    >>> len(rec.steps), rec.steps[0].result.shape
    (1, (2, 3))
    """
    rec = Recording()
    token = _ACTIVE.set(rec)
    try:
        yield rec
    finally:
        _ACTIVE.reset(token)
