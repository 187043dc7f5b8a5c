"""Loss primitives, registered in the same registry: value and gradient of a scalar cost.

A single sample is a vector (n,); a batch is (N, n) and its loss is the mean over samples, so each
gradient carries a 1/N. Targets are arrays of the prediction's shape, or, for ``cross_entropy``
and ``nll``, class indices (an int for one sample, shape (N,) for a batch).
"""

from __future__ import annotations

import numpy as np

from ._validate import _trusted, as_float_array
from .derivative import Derivative, Factor
from .errors import InvalidInputError, ShapeMismatchError
from .primitives import Primitive, _log_softmax, _softmax, register


def _prediction(a, name):
    a = as_float_array(a, name)
    if a.ndim not in (1, 2) or a.shape[-1] == 0 or a.shape[0] == 0:
        raise ShapeMismatchError(
            f"{name} must be a vector (n,) or a batch (N, n) with N, n >= 1; got shape {a.shape}."
        )
    return a


def one_hot(y, like: np.ndarray, name: str = "y", *, allow_indices: bool = True) -> np.ndarray:
    """Targets as an array shaped like ``like``: one-hot rows from class indices, or as given.

    With ``allow_indices`` (classification losses) given rows must be probabilities: entries in
    [0, 1], each row summing to 1 (one-hot or soft targets)."""
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


def _scale(a):
    """1 for a single sample, 1/N for a batch (the batch loss is the mean over samples)."""
    return 1.0 / a.shape[0] if a.ndim == 2 else 1.0


def _gradient(g, a, symbol, sym, arg):
    labels = "ni" if a.ndim == 2 else "i"
    suffix = "/N" if a.ndim == 2 else ""
    return Derivative((Factor(g, labels, symbol + suffix),), "", labels,
                      dict(zip(labels, a.shape)), sym["out"], sym[arg])


# ---------------------------------------------------------------- squared error
def _se_args(a, y):
    a = _prediction(a, "a")
    return a, one_hot(y, a, "y", allow_indices=False)


def _se_value(a, y):
    a, y = _se_args(a, y)
    return np.asarray(np.sum((a - y) ** 2) * _scale(a), dtype=a.dtype)


def _se_grad(sym, a, y):
    a, y = _se_args(a, y)
    return _gradient(2.0 * (a - y) * _scale(a), a, f"2({sym['a']} - y)", sym, "a")


def _example_se(rng, batch):
    shape = (batch, 4) if batch else 4
    return rng.normal(size=shape), rng.normal(size=shape)


squared_error = register(Primitive(
    "squared_error", ("a", "y"), "C", _se_value, {"a": _se_grad},
    {"a": "C = sum_i (a_i - y_i)^2; dC/da_i = 2 (a_i - y_i)"}, _example_se))


# ---------------------------------------------------------------- cross-entropy on probabilities
def _ce_args(p, y):
    p = _prediction(p, "p")
    if _trusted.get():  # checked once already, at the public entry point
        return p, one_hot(y, p, "y")
    if np.any(p < 0) or np.any(p > 1):
        raise InvalidInputError(
            f"cross_entropy takes probabilities in [0, 1]; p has values from {p.min():g} to "
            f"{p.max():g}. Apply softmax first, or use nll on the logits."
        )
    y = one_hot(y, p, "y")
    if np.any((p == 0) & (y != 0)):
        raise InvalidInputError("cross_entropy is infinite: p is 0 where the target y is not.")
    return p, y


def _ce_value(p, y):
    p, y = _ce_args(p, y)
    safe = np.where(y != 0, p, 1.0)
    return np.asarray(-np.sum(y * np.log(safe)) * _scale(p), dtype=p.dtype)


def _ce_grad(sym, p, y):
    p, y = _ce_args(p, y)
    g = -np.divide(y, p, out=np.zeros_like(p), where=y != 0) * _scale(p)
    return _gradient(g, p, f"-y/{sym['p']}", sym, "p")


def _example_ce(rng, batch):
    shape = (batch, 4) if batch else 4
    return _softmax(rng.normal(size=shape)), _softmax(rng.normal(size=shape))


cross_entropy = register(Primitive(
    "cross_entropy", ("p", "y"), "C", _ce_value, {"p": _ce_grad},
    {"p": "C = -sum_i y_i log p_i; dC/dp_i = -y_i / p_i"}, _example_ce))


# ---------------------------------------------------------------- NLL on logits
def _nll_args(z, y):
    z = _prediction(z, "z")
    return z, one_hot(y, z, "y")


def _nll_value(z, y):
    z, y = _nll_args(z, y)
    return np.asarray(-np.sum(y * _log_softmax(z)) * _scale(z), dtype=z.dtype)


def _nll_grad(sym, z, y):
    z, y = _nll_args(z, y)
    return _gradient((_softmax(z) * y.sum(axis=-1, keepdims=True) - y) * _scale(z), z,
                     f"(softmax({sym['z']}) - y)", sym, "z")


def _example_nll(rng, batch):
    z = rng.normal(size=(batch, 4) if batch else 4)
    return z, rng.integers(0, 4, size=batch) if batch else int(rng.integers(0, 4))


nll = register(Primitive(
    "nll", ("z", "y"), "C", _nll_value, {"z": _nll_grad},
    {"z": "C = logsumexp(z) - z_c; dC/dz_i = softmax(z)_i - 1_{i=c}"}, _example_nll))

#: The losses, by name.
LOSSES: dict[str, Primitive] = {p.name: p for p in (squared_error, cross_entropy, nll)}
