"""Targets of the losses: class indices, one-hot or soft rows, or arrays of the prediction's
shape, checked once and returned as arrays shaped like the prediction."""

from __future__ import annotations

import numpy as np

from ..core.validate import _trusted, as_float_array
from ..errors import InvalidInputError, ShapeMismatchError


def one_hot(y, like: np.ndarray, name: str = "y", *, allow_indices: bool = True) -> np.ndarray:
    """Targets as an array shaped like ``like``: one-hot rows from class indices, or as given.

    With ``allow_indices`` (classification losses) given rows must be probabilities: entries in
    [0, 1], each row summing to 1 (one-hot or soft targets). Inside the library, targets
    already checked and shaped like the prediction pass straight through."""
    if _trusted.get() and type(y) is np.ndarray and y.shape == like.shape \
            and y.dtype == like.dtype:
        return y
    y_arr = np.asarray(y)
    n_classes = like.shape[-1]
    if allow_indices and y_arr.shape == like.shape[:-1]:
        if y_arr.dtype.kind == "f":
            if not np.all(np.isfinite(y_arr)) or np.any(y_arr != np.round(y_arr)):
                raise InvalidInputError(f"class indices in {name} must be whole numbers; "
                                        f"got {y_arr!r}.")
            if np.any(np.abs(y_arr) > 2**62):
                raise InvalidInputError(f"class index out of range in {name}: got "
                                        f"{y_arr.tolist()}; there are {n_classes} classes.")
            y_arr = y_arr.astype(np.int64)
        if y_arr.dtype.kind not in "iu":
            raise InvalidInputError(f"class indices in {name} must be integers; got dtype "
                                    f"{y_arr.dtype}.")
        if np.any(y_arr < 0) or np.any(y_arr >= n_classes):
            raise InvalidInputError(
                f"class index out of range in {name}: got {y_arr.tolist()}, but there are "
                f"{n_classes} classes (valid indices 0..{n_classes - 1})."
            )
        return np.eye(n_classes, dtype=like.dtype)[y_arr]
    y_arr = as_float_array(y, name).astype(like.dtype, copy=False)
    if y_arr.shape != like.shape:
        indices = f" or class indices of shape {like.shape[:-1]}" if allow_indices else ""
        raise ShapeMismatchError(
            f"target {name} has shape {y_arr.shape}; it must have the prediction's shape "
            f"{like.shape}{indices}."
        )
    if allow_indices:
        tol = 1e-3 if like.dtype == np.float32 else 1e-6
        sums = y_arr.sum(axis=-1)
        if np.any(y_arr < 0) or np.any(y_arr > 1) or np.any(np.abs(sums - 1) > tol):
            raise InvalidInputError(
                f"target rows in {name} must be probabilities (entries in [0, 1], each row "
                f"summing to 1); got entries from {y_arr.min():g} to {y_arr.max():g} and row "
                f"sums {np.round(sums, 6).tolist()}. Pass class indices, one-hot rows or soft "
                f"targets."
            )
    return y_arr
