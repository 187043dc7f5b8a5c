"""Batch norm and layer norm: Jacobians of three terms, the mean and variance terms low-rank.

With ``xhat = (x - mean) / sigma`` and ``y = gamma xhat + beta``, normalising over an axis of
size M gives ``dy/dx = (gamma / sigma) (delta - 1/M - xhat xhat / M)`` along that axis: the
identity, a constant (the mean) and an outer product (the variance). Batch norm normalises over
the batch axis (training mode, biased variance), so its Jacobian couples samples: the (N, D, N, D)
tensor in meaning, stored as three terms of O(N D). Layer norm normalises each sample over its
features. The classic closed-form backward of each is its shortcut.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.validate import as_float_array
from ..errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from .base import NAMED, Ctx, Layer, register_kind
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


# ---------------------------------------------------------------- the layers
class _Norm(Layer):
    symbol = "y"
    params = ("gamma", "beta")
    axis = 0
    primitive: Primitive

    def __init__(self, eps: float = 1e-5) -> None:
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
            raise TensorcalcError(f"{type(self).__name__}(eps) needs eps > 0; got {eps!r}.")
        self.eps = float(eps)
        self.formulas = dict(self.primitive.formulas)

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise ShapeMismatchError(f"{type(self).__name__} takes vectors (D,) per sample; "
                                     f"got input shape {in_shape}.")
        return in_shape

    def param_shapes(self, in_shape):
        return {"gamma": in_shape, "beta": in_shape}

    def init(self, rng, in_shape, dtype):
        gamma = 1.0 + rng.normal(0, 0.1, in_shape)
        return {"gamma": gamma.astype(dtype), "beta": rng.normal(0, 0.1, in_shape).astype(dtype)}

    unbiased = False

    def forward(self, x, p):
        xhat, rs = normalise(x, self.axis, self.eps, self.unbiased)
        return p["gamma"] * xhat + p["beta"], (xhat, rs)

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        xhat, rs = ctx.cache
        sym = {"x": ctx.sym["in"], "out": ctx.sym["out"], "gamma": ctx.sym["gamma"],
               "beta": ctx.sym["beta"]}
        if wrt == "x":
            return self._dx(xhat, rs, ctx.p["gamma"], sym, self.unbiased)
        return norm_dgamma(xhat, sym) if wrt == "gamma" else norm_dbeta(xhat, sym)

    def local_arrays(self, ctx: Ctx, wrt: str):
        """The factors of :meth:`local` straight from the cache, in its term order."""
        xhat, rs = ctx.cache
        if wrt != "x":
            return (xhat,) if wrt == "gamma" else ()
        return self._dx_arrays(xhat, rs, ctx.p["gamma"])

    def param_grads(self, g, xhat):
        if g.ndim == 2:
            return {"gamma": np.sum(g * xhat, axis=0), "beta": g.sum(axis=0)}
        return {"gamma": g * xhat, "beta": g}

    def param_text(self, name: str, delta: str, ctx: Ctx) -> str:
        xhat = f"xhat({ctx.sym['in']})"
        summed = "sum_n " if ctx.batched else ""
        return f"{summed}{delta} (.) {xhat}" if name == "gamma" else f"{summed}{delta}"

    @classmethod
    def from_words(cls, words):
        numbers = [float(w) for w in words if w != "unbiased"]
        return cls(*numbers[:1], **({"unbiased": True} if "unbiased" in words else {}))

    def spec(self) -> str:
        return (self.kind + ("" if self.eps == 1e-5 else f" {self.eps:g}")
                + (" unbiased" if self.unbiased else ""))

    def __repr__(self) -> str:
        options = ([] if self.eps == 1e-5 else [f"eps={self.eps:g}"]) + (
            ["unbiased=True"] if self.unbiased else [])
        return f"{type(self).__name__}({', '.join(options)})"


@register_kind
class BatchNorm(_Norm):
    """Batch normalisation in training mode, like ``torch.nn.BatchNorm1d`` in training: the
    mean and biased variance of each feature over the batch (``unbiased=True``: the
    Bessel-corrected variance, 1/(N-1), as some course code uses), then ``gamma xhat + beta``.
    Parameters ``gamma<l>``, ``beta<l>`` of shape (D,) (initialised near 1 and 0). It needs a
    batch with N >= 2.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Dense(3), tc.BatchNorm()], input_shape=(2,))
    >>> list(net.params)
    ['W1', 'b1', 'gamma2', 'beta2']
    """

    kind = "batchnorm"
    needs_batch = True
    primitive = batch_norm
    _dx = staticmethod(bn_dx)

    def __init__(self, eps: float = 1e-5, unbiased: bool = False) -> None:
        super().__init__(eps)
        self.unbiased = bool(unbiased)

    def _dx_arrays(self, xhat, rs, gamma):
        N = xhat.shape[0]
        r = gamma * rs[0]
        inv = np.asarray(1.0 / N, dtype=xhat.dtype)
        return r, inv, r, np.asarray(1.0 / (N - self.unbiased), dtype=xhat.dtype), r, xhat, xhat

    def check_call(self, x, batched):
        if not batched or x.shape[0] < 2:
            raise InvalidInputError(
                f"batch norm normalises over the batch, so it needs a batch (N, D) with N >= 2; "
                f"got {'one sample' if not batched else 'a batch of 1'} (x of shape "
                f"{x.shape}).")

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        xhat, rs = ctx.cache
        N = g.shape[0]
        k = N / (N - 1) if self.unbiased else 1.0  # the variance term's N/(N-1)
        gx = (ctx.p["gamma"] * rs / N) * (N * g - g.sum(axis=0) - k * xhat * np.sum(
            g * xhat, axis=0))
        return gx, self.param_grads(g, xhat)

    def input_text(self, expr: str, ctx: Ctx) -> str:
        e, gamma, xhat = expr, ctx.sym["gamma"], f"xhat({ctx.sym['in']})"
        k = "N/(N-1) " if self.unbiased else ""
        return (f"({gamma}/(N sigma)) (.) (N {e} - sum_n {e} - {k}{xhat} (.) "
                f"sum_n({e} (.) {xhat}))")


@register_kind
class LayerNorm(_Norm):
    """Layer normalisation over each sample's features, like ``torch.nn.LayerNorm(D)``: the
    mean and biased variance of the sample, then ``gamma xhat + beta`` with parameters
    ``gamma<l>``, ``beta<l>`` of shape (D,).

    >>> import numpy as np, tensorcalc as tc
    >>> y = tc.Network.stack([tc.LayerNorm()], input_shape=(4,))(np.arange(4.0))
    >>> y.shape
    (4,)
    """

    kind = "layernorm"
    primitive = layer_norm
    axis = -1
    _dx = staticmethod(ln_dx)

    def _dx_arrays(self, xhat, rs, gamma):
        s = rs[..., 0]
        inv = np.asarray(1.0 / xhat.shape[-1], dtype=xhat.dtype)
        return gamma, s, inv, gamma, s, inv, gamma, s, xhat, xhat

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        xhat, rs = ctx.cache
        D = g.shape[-1]
        gg = g * ctx.p["gamma"]
        gx = (rs / D) * (D * gg - gg.sum(axis=-1, keepdims=True)
                         - xhat * np.sum(gg * xhat, axis=-1, keepdims=True))
        return gx, self.param_grads(g, xhat)

    def input_text(self, expr: str, ctx: Ctx) -> str:
        e, gamma, xhat = expr, ctx.sym["gamma"], f"xhat({ctx.sym['in']})"
        return (f"(1/(D sigma)) (.) (D g - sum_i g - {xhat} (.) sum_i(g (.) {xhat})), "
                f"g = {gamma} (.) {e}")


NAMED["batchnorm"] = BatchNorm
NAMED["layernorm"] = LayerNorm
