"""Layout conventions: canonical (output axes, then input axes), numerator and denominator.

- canonical: shape ``out + in``; entry ``[i..., j...] = d y[i...] / d x[j...]``.
- numerator: output axes, then the input axes reversed; a scalar-by-vector gradient is a
  ``1 x n`` row. dC/dW has the shape of W transposed; for W of shape (m, n), dz/dW is
  ``m x n x m``.
- denominator: input axes, then output axes; a scalar-by-vector gradient is an ``n x 1``
  column. dC/dW has W's shape; a Jacobian is ``n x m``.

These are views asked for by name; the canonical layout of a derivative never changes.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeMismatchError, UnknownNameError

LAYOUTS = ("canonical", "numerator", "denominator")


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise UnknownNameError(
            f"unknown layout {layout!r}; valid layouts are {', '.join(map(repr, LAYOUTS))}."
        )
    return layout


def _axes(layout: str, n_out: int, n_in: int) -> list[int]:
    out_axes = list(range(n_out))
    in_axes = list(range(n_out, n_out + n_in))
    if layout == "numerator":
        return out_axes + in_axes[::-1]
    if layout == "denominator":
        return in_axes + out_axes
    return out_axes + in_axes


def _is_row_or_column_case(out_shape: tuple, in_shape: tuple) -> bool:
    return len(out_shape) == 0 and len(in_shape) == 1


def layout_shape(layout: str, out_shape: tuple, in_shape: tuple) -> tuple[int, ...]:
    """The shape a derivative of ``out_shape`` by ``in_shape`` has in ``layout``."""
    check_layout(layout)
    full = tuple(out_shape) + tuple(in_shape)
    shape = tuple(full[a] for a in _axes(layout, len(out_shape), len(in_shape)))
    if _is_row_or_column_case(out_shape, in_shape):
        if layout == "numerator":
            return (1,) + shape
        if layout == "denominator":
            return shape + (1,)
    return shape


def to_layout(canonical: np.ndarray, layout: str, out_shape: tuple, in_shape: tuple) -> np.ndarray:
    """Rearrange a canonical array into ``layout`` (a view where numpy allows)."""
    check_layout(layout)
    arr = np.transpose(canonical, _axes(layout, len(out_shape), len(in_shape)))
    return arr.reshape(layout_shape(layout, out_shape, in_shape))


def from_layout(array: np.ndarray, layout: str, out_shape: tuple, in_shape: tuple) -> np.ndarray:
    """Undo :func:`to_layout`: return the canonical array."""
    check_layout(layout)
    expected = layout_shape(layout, out_shape, in_shape)
    if tuple(array.shape) != expected:
        raise ShapeMismatchError(
            f"a {layout}-layout derivative of shape {tuple(out_shape)} by {tuple(in_shape)} "
            f"must have shape {expected}, got {tuple(array.shape)}."
        )
    axes = _axes(layout, len(out_shape), len(in_shape))
    permuted_shape = tuple((tuple(out_shape) + tuple(in_shape))[a] for a in axes)
    return np.transpose(array.reshape(permuted_shape), np.argsort(axes))
