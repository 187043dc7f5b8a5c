"""Normalisation of feature maps: batch norm per channel over (N, H, W) and group norm per
sample over a group of channels and (H, W), each with per-channel gamma and beta.

Both Jacobians are three terms, as for batch norm over vectors: with M the number of values a
mean runs over and ``r = gamma / sigma``,

    dy/dx = r (identity - 1/M - xhat xhat'/M)   over the values sharing a mean,

kept as factors of the input's size (a channel label shared by both sides for batch norm; a
channel-group indicator of C x C for group norm), never as the (N C H W)^2 tensor. The classic
closed-form backward of each is its shortcut.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from .base import NAMED, Ctx, Layer, register_kind
from .primitive import structured
from .words import Words

SPATIAL, PRIMED = "hw", "uv"


def _eps(kind: str, eps) -> float:
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
        raise TensorcalcError(f"{kind}(eps) needs eps > 0; got {eps!r}.")
    return float(eps)


class _MapNorm(Layer):
    """What batch norm over channels and group norm share: samples (C, *spatial), with at
    most two spatial axes, and per-channel parameters."""

    symbol = "y"
    params = ("gamma", "beta")
    example_input = (4, 3, 3)

    def output_shape(self, in_shape):
        if not 1 <= len(in_shape) <= 3:
            raise ShapeMismatchError(f"{type(self).__name__} takes samples (C,), (C, L) or "
                                     f"(C, H, W); got input shape {in_shape}.")
        return in_shape

    def param_shapes(self, in_shape):
        return {"gamma": in_shape[:1], "beta": in_shape[:1]}

    def init(self, rng, in_shape, dtype):
        c = in_shape[:1]
        return {"gamma": (1.0 + rng.normal(0, 0.1, c)).astype(dtype),
                "beta": rng.normal(0, 0.1, c).astype(dtype)}

    @staticmethod
    def _channel(v: np.ndarray, x: np.ndarray, batched: bool) -> np.ndarray:
        """A per-channel vector shaped to broadcast against ``x``."""
        return v.reshape((1,) * batched + (-1,) + (1,) * (x.ndim - 1 - batched))

    def _labels(self, x: np.ndarray, batched: bool) -> tuple[str, str, str]:
        k = x.ndim - 1 - batched
        return "n" if batched else "", SPATIAL[:k], PRIMED[:k]

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        xhat, rs = ctx.cache
        n, sp, _ = self._labels(ctx.x, ctx.batched)
        lab = n + "c" + sp
        sizes = dict(zip(lab, xhat.shape))
        xh = f"xhat({ctx.sym['in']})"
        if wrt == "gamma":
            return structured([(1.0, [(xhat, lab, xh)], lab, "c")], sizes, ctx.sym["out"],
                              ctx.sym["gamma"])
        if wrt == "beta":
            return structured([(1.0, [], lab, "c")], sizes, ctx.sym["out"], ctx.sym["beta"],
                              xhat.dtype)
        return self._dx(ctx, xhat, rs, lab, sizes, xh)

    def param_grads(self, g, xhat, batched):
        axes = tuple(a for a in range(g.ndim) if a != int(batched))
        return {"gamma": np.sum(g * xhat, axis=axes), "beta": g.sum(axis=axes)}

    def param_text(self, name: str, delta: str, ctx: Ctx) -> str:
        over = "sum over all but c of "
        xhat = f"xhat({ctx.sym['in']})"
        return f"{over}{delta} (.) {xhat}" if name == "gamma" else f"{over}{delta}"


@register_kind
class BatchNorm2d(_MapNorm):
    """Batch normalisation of feature maps in training mode, like ``torch.nn.BatchNorm2d``
    (and ``BatchNorm1d`` on (N, C, L)): each channel's mean and biased variance over the
    batch and the spatial positions, then ``gamma_c xhat + beta_c``. Parameters ``gamma<l>``,
    ``beta<l>`` of shape (C,). It needs a batch.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Conv2d(2, 3), tc.BatchNorm2d()], input_shape=(1, 5, 5))
    >>> {k: v.shape for k, v in net.params.items()}
    {'K1': (2, 1, 3, 3), 'b1': (2,), 'gamma2': (2,), 'beta2': (2,)}
    """

    kind = "batchnorm2d"
    grammar = "batchnorm2d [eps]"
    needs_batch = True

    def __init__(self, eps: float = 1e-5) -> None:
        self.eps = _eps("BatchNorm2d", eps)
        self.formulas = {
            "x": "dy_nchw/dx_mduv = delta_cd (gamma_c/sigma_c) (delta_nm delta_hu delta_wv - 1/M "
                 "- xhat_nchw xhat_mcuv/M), M = N H W",
            "gamma": "dy_nchw/dgamma_d = xhat_nchw delta_cd",
            "beta": "dy_nchw/dbeta_d = delta_cd"}

    def check_call(self, x, batched):
        if not batched or x.shape[0] * int(np.prod(x.shape[2:])) < 2:
            raise InvalidInputError(
                f"BatchNorm2d normalises each channel over the batch and the positions, so it "
                f"needs a batch (N, C, ...) with N x positions >= 2; got x of shape {x.shape}.")

    def _axes(self, x):
        return tuple(a for a in range(x.ndim) if a != 1)

    def forward(self, x, p):
        axes = self._axes(x)
        mu = x.mean(axis=axes, keepdims=True)
        rs = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + self.eps)
        xhat = (x - mu) * rs
        return (self._channel(p["gamma"], x, True) * xhat + self._channel(p["beta"], x, True),
                (xhat, rs.reshape(-1)))

    def _dx(self, ctx, xhat, rs, lab, sizes, xh):
        _, sp, pr = self._labels(ctx.x, True)
        M = xhat.size // xhat.shape[1]
        r = (ctx.p["gamma"] * rs, "c", f"{ctx.sym['gamma']}/sigma")
        inv = (np.asarray(1.0 / M, dtype=xhat.dtype), "", "1/M")
        other = "mc" + pr
        terms = [(1.0, [r], lab, lab), (-1.0, [inv, r], lab, other),
                 (-1.0, [inv, r, (xhat, lab, xh), (xhat, other, xh)], lab, other)]
        sizes = sizes | {"m": xhat.shape[0]} | dict(zip(pr, xhat.shape[2:]))
        return structured(terms, sizes, ctx.sym["out"], ctx.sym["in"])

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        xhat, rs = ctx.cache
        axes = self._axes(g)
        M = g.size // g.shape[1]
        r = self._channel(ctx.p["gamma"] * rs, g, True)
        gx = (r / M) * (M * g - g.sum(axis=axes, keepdims=True)
                        - xhat * np.sum(g * xhat, axis=axes, keepdims=True))
        return gx, self.param_grads(g, xhat, True)

    def input_text(self, expr: str, ctx: Ctx) -> str:
        e, xhat = expr, f"xhat({ctx.sym['in']})"
        return (f"({ctx.sym['gamma']}/(M sigma)) (.) (M {e} - sum_nhw {e} - {xhat} (.) "
                f"sum_nhw({e} (.) {xhat})), per channel")

    @classmethod
    def from_words(cls, words):
        w = Words(cls, words)
        eps = w.optional(float, 1e-5)
        w.done()
        return cls(eps)

    def spec(self) -> str:
        return self.kind + ("" if self.eps == 1e-5 else f" {self.eps:g}")

    def __repr__(self) -> str:
        return "BatchNorm2d()" if self.eps == 1e-5 else f"BatchNorm2d(eps={self.eps:g})"


@register_kind
class GroupNorm(_MapNorm):
    """Group normalisation, like ``torch.nn.GroupNorm(groups, C)``: each sample's channels in
    ``groups`` groups of C/groups, each group normalised over its channels and positions
    (biased variance), then ``gamma_c xhat + beta_c`` per channel. Parameters ``gamma<l>``,
    ``beta<l>`` of shape (C,). C must be a multiple of ``groups``.

    >>> import numpy as np, tensorcalc as tc
    >>> y = tc.Network.stack([tc.GroupNorm(2)], input_shape=(4, 3, 3))(np.ones((4, 3, 3)))
    >>> y.shape
    (4, 3, 3)
    """

    kind = "groupnorm"
    grammar = "groupnorm G [eps]"
    example_input = (4, 3, 3)

    def __init__(self, groups: int, eps: float = 1e-5) -> None:
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
            raise TensorcalcError(f"GroupNorm(groups) needs a whole number of groups >= 1; got "
                                  f"{groups!r}.")
        self.groups, self.eps = int(groups), _eps("GroupNorm", eps)
        self.formulas = {
            "x": "dy_nchw/dx_nduv = [g(c) = g(d)] (gamma_c/sigma_ng) (delta_cd delta_hu delta_wv "
                 "- 1/M - xhat_nchw xhat_nduv/M), M = (C/G) H W",
            "gamma": "dy_nchw/dgamma_d = xhat_nchw delta_cd",
            "beta": "dy_nchw/dbeta_d = delta_cd"}

    def output_shape(self, in_shape):
        super().output_shape(in_shape)
        if in_shape[0] % self.groups:
            raise ShapeMismatchError(
                f"GroupNorm({self.groups}) splits the {in_shape[0]} channels into {self.groups} "
                f"groups, but {in_shape[0]} is not a multiple of {self.groups}; choose groups "
                f"that divide C (1 is layer norm over channels and positions, C is instance "
                f"norm).")
        return in_shape

    def _grouped(self, x, batched):
        lead = x.shape[:1] if batched else ()
        c = x.shape[len(lead)]
        return x.reshape(lead + (self.groups, c // self.groups) + x.shape[len(lead) + 1:])

    def forward_in(self, x, p, in_shape):
        batched = x.ndim > len(in_shape)
        grouped = self._grouped(x, batched)
        axes = tuple(range(1 + batched, grouped.ndim))
        mu = grouped.mean(axis=axes, keepdims=True)
        rs = 1.0 / np.sqrt(((grouped - mu) ** 2).mean(axis=axes, keepdims=True) + self.eps)
        xhat = ((grouped - mu) * rs).reshape(x.shape)
        y = self._channel(p["gamma"], x, batched) * xhat + self._channel(p["beta"], x, batched)
        return y, (xhat, rs.reshape(rs.shape[:1 + batched]))

    def _dx(self, ctx, xhat, rs, lab, sizes, xh):
        n, sp, pr = self._labels(ctx.x, ctx.batched)
        c = xhat.shape[int(ctx.batched)]
        k = c // self.groups
        M = xhat[0].size // self.groups if ctx.batched else xhat.size // self.groups
        group = np.arange(c) // k
        same = (group[:, None] == group[None, :]).astype(xhat.dtype)  # [g(c) = g(d)]
        r = ctx.p["gamma"] * np.repeat(rs, k, axis=-1)  # gamma_c / sigma_{n, g(c)}
        rf = (r, n + "c", f"{ctx.sym['gamma']}/sigma")
        inv = (np.asarray(1.0 / M, dtype=xhat.dtype), "", "1/M")
        E = (same, "cd", "[g(c) = g(d)]")
        other = n + "d" + pr
        terms = [(1.0, [rf], lab, lab), (-1.0, [inv, rf, E], lab, other),
                 (-1.0, [inv, rf, E, (xhat, lab, xh), (xhat, other, xh)], lab, other)]
        sizes = sizes | {"d": c} | dict(zip(pr, xhat.shape[1 + int(ctx.batched):]))
        return structured(terms, sizes, ctx.sym["out"], ctx.sym["in"])

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        xhat, rs = ctx.cache
        b = ctx.batched
        gg = g * self._channel(ctx.p["gamma"], g, b)
        grouped = self._grouped(gg, b)
        xg = self._grouped(xhat, b)
        axes = tuple(range(1 + b, grouped.ndim))
        M = int(np.prod(grouped.shape[1 + b:]))
        r = rs.reshape(rs.shape + (1,) * (grouped.ndim - rs.ndim))
        gx = (r / M) * (M * grouped - grouped.sum(axis=axes, keepdims=True)
                        - xg * np.sum(grouped * xg, axis=axes, keepdims=True))
        return gx.reshape(g.shape), self.param_grads(g, xhat, b)

    def input_text(self, expr: str, ctx: Ctx) -> str:
        e, xhat = f"({ctx.sym['gamma']} (.) {expr})", f"xhat({ctx.sym['in']})"
        return (f"(1/(M sigma)) (.) (M {e} - sum_group {e} - {xhat} (.) sum_group({e} (.) "
                f"{xhat})), per sample and group")

    @classmethod
    def example(cls):
        return cls(2)

    @classmethod
    def from_words(cls, words):
        w = Words(cls, words)
        groups, eps = w.value("the number of groups G"), w.optional(float, 1e-5)
        w.done()
        return cls(groups, eps)

    def spec(self) -> str:
        return f"groupnorm {self.groups}" + ("" if self.eps == 1e-5 else f" {self.eps:g}")

    def __repr__(self) -> str:
        return f"GroupNorm({self.groups}" + ("" if self.eps == 1e-5 else
                                            f", eps={self.eps:g}") + ")"


NAMED["batchnorm2d"] = BatchNorm2d
