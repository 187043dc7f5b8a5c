"""Sums and chains of derivatives: ``+``, ``-``, scalar ``*`` and ``@`` (the chain rule), as a
mixin of :class:`~tensorcalc.Derivative` that builds its results with ``type(self)._make``."""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..errors import ShapeMismatchError
from .algebra import add_terms, compose_terms
from .checks import check_fit, describe


class Arithmetic:
    """``D1 + D2``, ``D1 - D2``, ``-D``, ``c * D`` build sums of terms; ``D1 @ D2`` chains."""

    __slots__ = ()

    def __add__(self, other: object) -> Arithmetic:
        if isinstance(other, Real) and other == 0:
            return self
        if not isinstance(other, Arithmetic):
            return NotImplemented
        if (self.out_shape, self.in_shape) != (other.out_shape, other.in_shape):
            raise ShapeMismatchError(
                f"cannot add {describe(self)} and {describe(other)}: a sum needs the same "
                f"output and input shapes.")
        terms, sizes = add_terms(self.terms, self.sizes, other.terms, other.sizes)
        dtype = np.result_type(self.dtype, other.dtype)
        return type(self)._make(terms, sizes, self.of, self.wrt, dtype)

    __radd__ = __add__

    def __mul__(self, c: object) -> Arithmetic:
        if not isinstance(c, Real) or isinstance(c, bool):
            return NotImplemented
        terms = tuple(t.scaled(float(c)) for t in self.terms)
        return type(self)._make(terms, self.sizes, self.of, self.wrt, self._dtype)

    __rmul__ = __mul__

    def __neg__(self) -> Arithmetic:
        return -1 * self

    def __sub__(self, other: object) -> Arithmetic:
        if not isinstance(other, Arithmetic):
            return NotImplemented
        return self + (-other)

    def __matmul__(self, other: Arithmetic) -> Arithmetic:
        return compose(self, other)


def compose(outer, inner):
    """d(outer.of)/d(inner.wrt): every term of ``outer`` joined with every term of ``inner``
    (the chain rule distributes over sums). Nothing is contracted."""
    check_fit(outer, inner)
    dtype = np.result_type(outer.dtype, inner.dtype)
    terms, sizes = compose_terms(outer.terms, outer.sizes, inner.terms, inner.sizes, dtype)
    return type(outer)._make(terms, sizes, outer.of, inner.wrt, dtype)
