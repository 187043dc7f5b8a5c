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
from ..errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from .base import NAMED, Ctx, Layer, register_kind
from .norm_math import (
    batch_norm,
    bn_dx,
    layer_norm,
    ln_dx,
    norm_dbeta,
    norm_dgamma,
    normalise,
)
from .primitive import Primitive
from .words import Words


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
        """``[eps]`` (batch norm: ``[eps] [unbiased]``)."""
        w = Words(cls, words)
        eps = w.optional(float, 1e-5)
        options = {"unbiased": True} if cls is BatchNorm and w.flag("unbiased") else {}
        w.done()
        return cls(eps, **options)

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
    grammar = "batchnorm [eps] [unbiased]"
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
    grammar = "layernorm [eps]"
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
