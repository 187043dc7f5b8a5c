"""Convolutions (the cross-correlation of deep-learning libraries), in 1 or 2 spatial dims.

``Y[c, o] = sum_{e, k} K[c, e, k] X[e, s*o + d*k - p] + b[c]``. Output position ``o``, tap ``k``
and input position ``i`` are tied by one window relation per spatial axis, so ``dY/dX`` is the
kernel factor plus the relations and ``dY/dK`` the input factor plus the same relations, never a
pattern tensor. The shortcut is what a student writes: the input gradient as the "full"
convolution of the stride-dilated upstream gradient with the 180-degree-rotated kernel, the
kernel gradient as the correlation of the input with the upstream gradient.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor, Term
from ..core.validate import as_float_array
from ..errors import ShapeMismatchError, TensorcalcError
from .base import Ctx, Layer, register_kind
from .primitive import Primitive, register
from .windowing import INP, OUT, TAP, Geometry, axis_value, axis_word, per_axis
from .words import Words


def _spec(dims: int) -> str:
    pairs = "".join(OUT[a] + TAP[a] for a in range(dims))
    return f"ne{pairs},ce{TAP[:dims]}->nc{OUT[:dims]}"


def _check(x, K, b, dims):
    x, K = as_float_array(x, "x"), as_float_array(K, "K")
    if K.ndim != dims + 2 or x.ndim not in (dims + 1, dims + 2) or x.shape[-dims - 1] != K.shape[1]:
        raise ShapeMismatchError(
            f"a {dims}-d convolution takes x of shape (C_in, {'H, W' if dims == 2 else 'L'}) or "
            f"a batch of them and K of shape (C_out, C_in, {'kh, kw' if dims == 2 else 'k'}); "
            f"got x {x.shape} and K {K.shape}.")
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != K.shape[:1]:
            raise ShapeMismatchError(f"b must have shape ({K.shape[0]},); got {b.shape}.")
    return x, K, b


def convolve(x, K, b, geo: Geometry) -> np.ndarray:
    """The forward value (a batch (N, C_in, *S) or one sample (C_in, *S))."""
    batch = x.ndim == K.ndim
    xb = x if batch else x[None]
    y = np.einsum(_spec(geo.dims), geo.windows(xb, K.shape[2:]), K, optimize=True)
    if b is not None:
        y = y + b.reshape((-1,) + (1,) * geo.dims)
    return y if batch else y[0]


def conv_derivative(wrt: str, x, K, geo: Geometry, sym, dtype) -> Derivative:
    """dY/d``wrt`` (``"x"``, ``"K"`` or ``"b"``) as factors and window relations."""
    dims, batch = geo.dims, x.ndim == K.ndim
    n = "n" if batch else ""
    sizes = geo.sizes(x.shape[-dims:], K.shape[2:]) | {"c": K.shape[0], "e": K.shape[1]}
    if batch:
        sizes["n"] = x.shape[0]
    out = n + "c" + OUT[:dims]
    if wrt == "x":
        factors, inp = (Factor(K, "ce" + TAP[:dims], sym["K"]),), n + "e" + INP[:dims]
    elif wrt == "K":
        factors, inp = (Factor(x, n + "e" + INP[:dims], sym["x"]),), "ce" + TAP[:dims]
    else:
        return Derivative((), out, "c", {k: v for k, v in sizes.items() if k in out},
                          sym["out"], sym["b"], _dtype=dtype)
    term = Term(factors, out, inp, 1.0, geo.relations())
    return Derivative._make((term,), sizes, sym["out"], sym[wrt], dtype)


def _make(dims: int) -> Primitive:
    def value(x, K, b=None, stride=1, padding=0, dilation=1):
        x, K, b = _check(x, K, b, dims)
        return convolve(x, K, b, Geometry(dims, stride, padding, dilation))

    def derivative(wrt):
        def d(sym, x, K, b=None, stride=1, padding=0, dilation=1):
            x, K, b = _check(x, K, b, dims)
            geo = Geometry(dims, stride, padding, dilation)
            if min(geo.out_shape(x.shape[-dims:], K.shape[2:])) < 1:
                raise ShapeMismatchError("the kernel is larger than the padded input.")
            if wrt != "b":  # our own copies: a caller's later change cannot reach them
                x, K = np.array(x), np.array(K)
            return conv_derivative(wrt, x, K, geo, sym, np.result_type(x, K))
        return d

    def example(rng, batch):
        spatial = (5, 6) if dims == 2 else (7,)
        x = rng.normal(size=((batch,) if batch else ()) + (2,) + spatial)
        K = rng.normal(size=(3, 2) + ((2, 3) if dims == 2 else (3,)))
        opts = ((2, 1), (1, 0), (1, 2)) if dims == 2 else (2, 1, 2)
        return (x, K, rng.normal(size=3)) + opts

    formulas = {"x": "dY_co/dX_ei = sum_k K_cek [i = s o + d k - p]",
                "K": "dY_co/dK_fek = delta_cf sum_i X_ei [i = s o + d k - p]",
                "b": "dY_co/db_f = delta_cf"}
    return register(Primitive(f"conv{dims}d", ("x", "K", "b"), "Y", value,
                              {w: derivative(w) for w in ("x", "K", "b")}, formulas, example))


conv1d = _make(1)
conv2d = _make(2)


def dilate(g: np.ndarray, stride, axes) -> np.ndarray:
    """Insert ``stride - 1`` zeros between the entries of ``g`` along each spatial axis."""
    for a, s in zip(axes, stride):
        if s > 1:
            shape = list(g.shape)
            shape[a] = s * (g.shape[a] - 1) + 1
            out = np.zeros(shape, dtype=g.dtype)
            out[(slice(None),) * a + (slice(None, None, s),)] = g
            g = out
    return g


@register_kind
class Conv(Layer):
    """A convolution with ``out_channels`` kernels of ``kernel_size`` (an int or one per
    spatial axis), ``stride``, ``padding`` and ``dilation`` (likewise), exactly as torch's
    ``conv1d``/``conv2d``; the number of spatial axes comes from the input shape (``(C, L)`` or
    ``(C, H, W)``). Parameters ``K<l>`` of shape (C_out, C_in, *kernel) and ``b<l>``."""

    kind = "conv"
    grammar = "{kind} C K [stride S] [padding P] [dilation D] [nobias]"
    symbol = "y"
    decay = ("K",)
    dims: int | None = None
    example_input = (2, 6, 5)

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True) -> None:
        if not isinstance(out_channels, (int, np.integer)) or out_channels < 1:
            raise TensorcalcError(f"out_channels must be a whole number >= 1; got "
                                  f"{out_channels!r}.")
        self.out_channels, self.bias = int(out_channels), bool(bias)
        self.options = (kernel_size, stride, padding, dilation)
        for value, name, low in zip(self.options, ("kernel_size", "stride", "padding",
                                                   "dilation"), (1, 1, 0, 1)):
            per_axis(value, 1 if isinstance(value, (int, np.integer)) else len(value), name,
                     low)
        self.params = ("K", "b") if bias else ("K",)
        self.formulas = {k: v for k, v in conv1d.formulas.items() if k in ("x",) + self.params}

    def _geometry(self, dims: int) -> tuple[tuple[int, ...], Geometry]:
        kernel_size, stride, padding, dilation = self.options
        return per_axis(kernel_size, dims, "kernel_size", 1), Geometry(dims, stride, padding,
                                                                         dilation)

    def output_shape(self, in_shape):
        dims = len(in_shape) - 1
        if dims not in (1, 2) or (self.dims and dims != self.dims):
            raise ShapeMismatchError(f"a convolution takes (C, L) or (C, H, W) per sample; got "
                                     f"input shape {in_shape}.")
        kernel, geo = self._geometry(dims)
        out = geo.out_shape(in_shape[1:], kernel)
        if min(out) < 1:
            raise ShapeMismatchError(f"the kernel {kernel} (dilation {geo.dilation}) is larger "
                                     f"than the padded input {in_shape[1:]} (padding "
                                     f"{geo.padding}).")
        return (self.out_channels,) + out

    def param_shapes(self, in_shape):
        kernel, _ = self._geometry(len(in_shape) - 1)
        shapes = {"K": (self.out_channels, in_shape[0]) + kernel}
        return shapes | ({"b": (self.out_channels,)} if self.bias else {})

    def init(self, rng, in_shape, dtype):
        shape = self.param_shapes(in_shape)["K"]
        K = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape)
        params = {"K": K} | ({"b": rng.normal(0, 0.1, self.out_channels)} if self.bias else {})
        return {k: v.astype(dtype) for k, v in params.items()}

    def forward(self, x, p):
        _, geo = self._geometry(p["K"].ndim - 2)
        return convolve(x, p["K"], p.get("b"), geo), None

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        _, geo = self._geometry(ctx.p["K"].ndim - 2)
        sym = {"x": ctx.sym["in"], "K": ctx.sym["K"], "b": ctx.sym.get("b", "b"),
               "out": ctx.sym["out"]}
        return conv_derivative(wrt, ctx.x, ctx.p["K"], geo, sym, ctx.x.dtype)

    def local_arrays(self, ctx: Ctx, wrt: str):
        return {"x": (ctx.p["K"],), "K": (ctx.x,), "b": ()}[wrt]

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        K = ctx.p["K"]
        dims = K.ndim - 2
        kernel, geo = self._geometry(dims)
        x = ctx.x if ctx.batched else ctx.x[None]
        g = g if ctx.batched else g[None]
        pairs = "".join(OUT[a] + TAP[a] for a in range(dims))
        grads = {"K": np.einsum(f"ne{pairs},nc{OUT[:dims]}->ce{TAP[:dims]}",
                                geo.windows(x, kernel), g, optimize=True)}
        if self.bias:
            grads["b"] = g.sum(axis=(0,) + tuple(range(2, 2 + dims)))
        if not want_input:
            return None, grads
        # the "full" convolution of the stride-dilated gradient with the rotated kernel
        spatial = tuple(range(2, 2 + dims))
        gd = dilate(g, geo.stride, spatial)
        reach = [d * (k - 1) for d, k in zip(geo.dilation, kernel)]
        gd = np.pad(gd, [(0, 0), (0, 0)] + [(r, r) for r in reach])
        rotated = np.flip(K, axis=spatial).transpose((1, 0) + spatial)
        full = convolve(gd, rotated, None, Geometry(dims, 1, 0, geo.dilation))
        out = np.zeros(x.shape[:2] + tuple(n + 2 * p for n, p in zip(x.shape[2:],
                                                                     geo.padding)), g.dtype)
        out[(slice(None), slice(None)) + tuple(slice(0, n) for n in full.shape[2:])] = full
        gx = out[(slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in
                                                    zip(geo.padding, x.shape[2:]))]
        return (gx if ctx.batched else gx[0]), grads

    def input_text(self, expr: str, ctx: Ctx) -> str:
        return f"full_conv(dilate_s({expr}), rot180({ctx.sym['K']}))"

    def param_text(self, name: str, delta: str, ctx: Ctx) -> str:
        if name == "b":
            return f"sum_(n, o) {delta}"
        return f"correlate({ctx.sym['in']}, {delta})"

    @classmethod
    def example(cls):
        return cls(3, (2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2))

    def spec(self) -> str:
        kernel_size, stride, padding, dilation = self.options
        words = [self.kind, str(self.out_channels), axis_word(kernel_size)]
        words += [f"{k}{axis_word(v)}" for k, v, d in (("s", stride, 1), ("p", padding, 0),
                                                    ("d", dilation, 1)) if v != d]
        return " ".join(words + ([] if self.bias else ["nobias"]))

    @classmethod
    def from_words(cls, words):
        """``C K [stride S] [padding P] [dilation D] [nobias]``: C kernels of size K, each
        option an int or one per axis (``3x2``), ``s2``, ``p1``, ``d2`` for short."""
        w = Words(cls, words)
        channels, kernel = w.value("the channels C"), w.value("the kernel size K", axis_value)
        options = {name: w.option(name, axis_value) for name in ("stride", "padding",
                                                                 "dilation")}
        bias = not w.flag("nobias")
        w.done()
        return cls(channels, kernel, bias=bias,
                   **{k: v for k, v in options.items() if v is not None})

    def __repr__(self) -> str:
        kernel_size, stride, padding, dilation = self.options
        extra = "".join(f", {k}={v!r}" for k, v, d in (("stride", stride, 1),
                                                      ("padding", padding, 0),
                                                      ("dilation", dilation, 1)) if v != d)
        extra += "" if self.bias else ", bias=False"
        return f"{type(self).__name__}({self.out_channels}, {kernel_size!r}{extra})"


@register_kind
class Conv1d(Conv):
    """A 1-d convolution: input ``(C, L)`` per sample (see :class:`Conv`).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Conv1d(4, 3, padding=1)], input_shape=(2, 10))
    >>> net.params["K1"].shape, net(np.ones((2, 10))).shape
    ((4, 2, 3), (4, 10))
    """

    kind = "conv1d"
    dims = 1
    example_input = (2, 7)

    @classmethod
    def example(cls):
        return cls(3, 3, stride=2, padding=1, dilation=2)


@register_kind
class Conv2d(Conv):
    """A 2-d convolution: input ``(C, H, W)`` per sample (see :class:`Conv`).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Conv2d(8, 3)], input_shape=(1, 28, 28))
    >>> net.params["K1"].shape, net(np.ones((1, 28, 28))).shape
    ((8, 1, 3, 3), (8, 26, 26))
    """

    kind = "conv2d"
    dims = 2
