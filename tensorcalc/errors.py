"""The library's exceptions: one base class and a few precise subclasses.

Every error the library raises on bad input is a :class:`TensorcalcError`, which is also a
``ValueError`` so that generic handlers keep working. The message states the problem, the shapes
or names involved, and a fix.
"""

from __future__ import annotations


class TensorcalcError(ValueError):
    """Base class of every error raised by tensorcalc on bad input."""


class ShapeMismatchError(TensorcalcError):
    """Two objects that must fit together do not (chain, network weights, targets)."""


class InvalidInputError(TensorcalcError):
    """An array is unusable: complex, object, non-finite, empty or of the wrong rank."""


class UnknownNameError(TensorcalcError):
    """A name (activation, loss, method, layout) is not one the library knows."""


class MemoryLimitError(TensorcalcError):
    """Materialising a tensor would exceed the configured memory limit."""


__all__ = [
    "TensorcalcError",
    "ShapeMismatchError",
    "InvalidInputError",
    "UnknownNameError",
    "MemoryLimitError",
]
