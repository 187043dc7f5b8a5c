"""Argument checks of a network: dtype, seed, and the input's shape."""

from __future__ import annotations

import numpy as np

from ..core.validate import as_float_array
from ..errors import InvalidInputError, ShapeMismatchError


def valid_dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise InvalidInputError("dtype must be np.float32 or np.float64.")
    return dtype


def valid_seed(seed):
    if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise InvalidInputError(f"seed must be a non-negative integer or None; got {seed!r}.")
    return seed


def check_input(x: object, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``x`` as one sample or a batch of ``shape``, cast to ``dtype``."""
    x = as_float_array(x, "x")
    text = (f"({shape[0]},)" if len(shape) == 1 else str(shape))
    batch = "(N, " + ", ".join(map(str, shape)) + ")"
    if x.ndim not in (len(shape), len(shape) + 1) or x.shape[x.ndim - len(shape):] != shape:
        raise ShapeMismatchError(f"x must have shape {text} for one sample or {batch} for a "
                                 f"batch; got {x.shape}.")
    if x.ndim > len(shape) and x.shape[0] == 0:
        raise InvalidInputError(f"x is an empty batch (shape {x.shape}); pass at least one "
                                f"sample.")
    return x.astype(dtype, copy=False)
