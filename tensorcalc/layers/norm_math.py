"""The mathematics of normalisation over a vector axis: the normalised values and, for batch norm
and layer norm, their Jacobians as three terms and the registry's primitives.

With ``xhat = (x - mean) / sigma`` and ``y = gamma xhat + beta``, normalising over an axis of
size M gives ``dy/dx = (gamma / sigma) (delta - 1/M - xhat xhat / M)`` along that axis: the
identity, a constant (the mean) and an outer product (the variance).
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.validate import as_float_array
from ..errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from .primitive import Primitive, register, structured


def normalise(x: np.ndarray, axis: int, eps: float,
              unbiased: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(xhat, 1/sigma)`` over ``axis`` with the biased variance (or the Bessel-corrected one,
    1/(M-1)), 1/sigma keeping dims."""
    mu = x.mean(axis=axis, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - unbiased)
    rs = 1.0 / np.sqrt(var + eps)
    return (x - mu) * rs, rs


def _args(x, gamma, beta, batch_norm: bool):
    x, gamma, beta = (as_float_array(v, k) for v, k in ((x, "x"), (gamma, "gamma"),
                                                        (beta, "beta")))
    if batch_norm and (x.ndim != 2 or x.shape[0] < 2):
        raise InvalidInputError(f"batch norm normalises over the batch, so it needs a batch "
                                f"(N, D) with N >= 2; got x of shape {x.shape}.")
    if x.ndim not in (1, 2) or gamma.shape != x.shape[-1:] or beta.shape != x.shape[-1:]:
        raise ShapeMismatchError(f"x must be (D,) or (N, D) with gamma and beta of shape (D,); "
                                 f"got x {x.shape}, gamma {gamma.shape}, beta {beta.shape}.")
    return x, gamma, beta


def _symbols(sym):
    return f"xhat({sym['x']})", f"sigma({sym['x']})"


# ---------------------------------------------------------------- batch norm
def bn_dx(xhat, rs, gamma, sym, unbiased: bool = False) -> Derivative:
    """``dy_ni/dx_mk = delta_ik (gamma_i/sigma_i) (delta_nm - 1/N - xhat_ni xhat_mi / N)``
    (with the Bessel-corrected variance the last term is divided by N - 1)."""
    N = xhat.shape[0]
    xh, sigma = _symbols(sym)
    r = (gamma * rs[0], "i", f"{sym['gamma']}/{sigma}")
    inv = (np.asarray(1.0 / N, dtype=xhat.dtype), "", "1/N")
    var = (np.asarray(1.0 / (N - unbiased), dtype=xhat.dtype), "",
           "1/(N-1)" if unbiased else "1/N")
    terms = [(1.0, [r], "ni", "ni"), (-1.0, [inv, r], "ni", "mi"),
             (-1.0, [var, r, (xhat, "ni", xh), (xhat, "mi", xh)], "ni", "mi")]
    sizes = {"n": N, "i": xhat.shape[1], "m": N}
    return structured(terms, sizes, sym["out"], sym["x"])


def norm_dgamma(xhat, sym) -> Derivative:
    """``dy_i/dgamma_k = xhat_i delta_ik`` (a batch keeps its label ``n``)."""
    i = "ni" if xhat.ndim == 2 else "i"
    sizes = dict(zip(i, xhat.shape))
    return structured([(1.0, [(xhat, i, _symbols(sym)[0])], i, "i")], sizes, sym["out"],
                      sym["gamma"])


def norm_dbeta(xhat, sym) -> Derivative:
    """``dy_i/dbeta_k = delta_ik``."""
    i = "ni" if xhat.ndim == 2 else "i"
    return structured([(1.0, [], i, "i")], dict(zip(i, xhat.shape)), sym["out"], sym["beta"],
                      xhat.dtype)


def _bn_value(x, gamma, beta, eps=1e-5):
    x, gamma, beta = _args(x, gamma, beta, True)
    return gamma * normalise(x, 0, eps)[0] + beta


def _bn_d(which):
    def d(sym, x, gamma, beta, eps=1e-5):
        x, gamma, beta = _args(x, gamma, beta, True)
        xhat, rs = normalise(x, 0, eps)
        if which == "x":
            return bn_dx(xhat, rs, gamma, sym)
        return norm_dgamma(xhat, sym) if which == "gamma" else norm_dbeta(xhat, sym)
    return d


def _example(rng, batch):
    x = rng.normal(size=(batch or 3, 4)) * 2 + 1
    return x, 1 + 0.3 * rng.normal(size=4), rng.normal(size=4)


_NORM_FORMULAS = {"gamma": "dy_i/dgamma_k = xhat_i delta_ik", "beta": "dy_i/dbeta_k = delta_ik"}
batch_norm = register(Primitive(
    "batch_norm", ("x", "gamma", "beta"), "y", _bn_value,
    {k: _bn_d(k) for k in ("x", "gamma", "beta")},
    {"x": "dy_ni/dx_mk = delta_ik (gamma_i/sigma_i) (delta_nm - 1/N - xhat_ni xhat_mi/N)",
     **_NORM_FORMULAS}, _example))


# ---------------------------------------------------------------- layer norm
def ln_dx(xhat, rs, gamma, sym, unbiased: bool = False) -> Derivative:
    """``dy_ni/dx_mk = delta_nm (gamma_i/sigma_n) (delta_ik - 1/D - xhat_ni xhat_nk / D)``
    (layer norm uses the biased variance; ``unbiased`` is accepted for a common signature)."""
    if unbiased:
        raise TensorcalcError("layer norm takes the biased variance only, as torch's does.")
    D = xhat.shape[-1]
    xh, sigma = _symbols(sym)
    batch = xhat.ndim == 2
    n = "n" if batch else ""
    g = (gamma, "i", sym["gamma"])
    s = (rs[..., 0], n, f"1/{sigma}")
    inv = (np.asarray(1.0 / D, dtype=xhat.dtype), "", "1/D")
    i, k = n + "i", n + "k"
    terms = [(1.0, [g, s], i, i), (-1.0, [inv, g, s], i, k),
             (-1.0, [inv, g, s, (xhat, i, xh), (xhat, k, xh)], i, k)]
    sizes = {"i": D, "k": D} | ({"n": xhat.shape[0]} if batch else {})
    return structured(terms, sizes, sym["out"], sym["x"])


def _ln_value(x, gamma, beta, eps=1e-5):
    x, gamma, beta = _args(x, gamma, beta, False)
    return gamma * normalise(x, -1, eps)[0] + beta


def _ln_d(which):
    def d(sym, x, gamma, beta, eps=1e-5):
        x, gamma, beta = _args(x, gamma, beta, False)
        xhat, rs = normalise(x, -1, eps)
        if which == "x":
            return ln_dx(xhat, rs, gamma, sym)
        return norm_dgamma(xhat, sym) if which == "gamma" else norm_dbeta(xhat, sym)
    return d


def _ln_example(rng, batch):
    x = rng.normal(size=(batch, 4) if batch else 4) * 2 + 1
    return x, 1 + 0.3 * rng.normal(size=4), rng.normal(size=4)


layer_norm = register(Primitive(
    "layer_norm", ("x", "gamma", "beta"), "y", _ln_value,
    {k: _ln_d(k) for k in ("x", "gamma", "beta")},
    {"x": "dy_ni/dx_mk = delta_nm (gamma_i/sigma_n) (delta_ik - 1/D - xhat_ni xhat_nk/D)",
     **_NORM_FORMULAS}, _ln_example))

