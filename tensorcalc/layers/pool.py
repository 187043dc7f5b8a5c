"""Pooling in 1 or 2 spatial dims, and flatten.

Average pooling is ``1/|window|`` times the window relations; max pooling is a selection: a
one-hot factor over each window's taps (the first maximum wins ties, as in torch) plus the same
relations, as compact as the input. Flatten ties ``f = (H W) c + W h + w``: one relation that a
contraction lowers to a reshape.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor, Relation, Term
from ..core.validate import as_float_array
from ..core.windows import accumulate
from ..errors import ShapeMismatchError
from .base import NAMED, Ctx, Layer, register_kind
from .primitive import Primitive, register
from .windowing import INP, OUT, TAP, Geometry, axis_value, axis_word, per_axis
from .words import Words


def _pairs(dims: int) -> str:
    return "".join(OUT[a] + TAP[a] for a in range(dims))


def pool_windows(x: np.ndarray, kernel, stride) -> np.ndarray:
    """x (..., C, *S) as (..., C, o0, k0, o1, k1, ...)."""
    lead = x.ndim - len(kernel)
    xb = x.reshape((-1,) + x.shape[lead - 1:])
    w = Geometry(len(kernel), stride).windows(xb, kernel)
    return w.reshape(x.shape[:lead - 1] + w.shape[1:])


def _taps_last(w: np.ndarray, dims: int) -> np.ndarray:
    """(..., o0, k0, o1, k1) -> (..., o0, o1, k0 * k1)."""
    lead = w.ndim - 2 * dims
    order = list(range(lead)) + [lead + 2 * a for a in range(dims)] + [
        lead + 2 * a + 1 for a in range(dims)]
    w = w.transpose(order)
    return w.reshape(w.shape[:lead + dims] + (-1,))


def max_selection(x: np.ndarray, kernel, stride) -> np.ndarray:
    """One-hot of each window's first maximum, shaped (..., C, o0, k0, o1, k1, ...)."""
    dims = len(kernel)
    flat = _taps_last(pool_windows(x, kernel, stride), dims)
    onehot = (np.arange(flat.shape[-1]) == flat.argmax(axis=-1)[..., None]).astype(x.dtype)
    onehot = onehot.reshape(onehot.shape[:-1] + tuple(kernel))
    lead = onehot.ndim - 2 * dims
    order = list(range(lead)) + [j for a in range(dims) for j in (lead + a, lead + dims + a)]
    return onehot.transpose(order)


def pool_derivative(kind: str, x, kernel, stride, sym, selection=None) -> Derivative:
    dims = len(kernel)
    lead = "n" * (x.ndim - dims - 1) + "c"
    geo = Geometry(dims, stride)
    sizes = geo.sizes(x.shape[-dims:], kernel) | dict(zip(lead, x.shape[:-dims]))
    if kind == "max":
        sel = max_selection(x, kernel, stride) if selection is None else selection
        factors = (Factor(sel, lead + _pairs(dims), f"argmax({sym['x']})"),)
    else:
        size = np.asarray(1.0 / math.prod(kernel), dtype=x.dtype)
        factors = (Factor(size, "", f"1/{math.prod(kernel)}"),)
    term = Term(factors, lead + OUT[:dims], lead + INP[:dims], 1.0, geo.relations())
    return Derivative._make((term,), sizes, sym["out"], sym["x"], x.dtype)


def poolaxis_value(kind: str, x, kernel, stride) -> np.ndarray:
    flat = _taps_last(pool_windows(x, kernel, stride), len(kernel))
    return flat.max(axis=-1) if kind == "max" else flat.mean(axis=-1)


def _make(kind: str, dims: int) -> Primitive:
    def args(x, kernel_size, stride):
        x = as_float_array(x, "x")
        kernel = per_axis(kernel_size, dims, "kernel_size", 1)
        stride = kernel if stride is None else per_axis(stride, dims, "stride", 1)
        if x.ndim not in (dims + 1, dims + 2) or any(
                n < k for n, k in zip(x.shape[-dims:], kernel)):
            raise ShapeMismatchError(f"{kind}_pool{dims}d takes x of shape (C, *{dims} sizes) "
                                     f"or a batch, each size at least the kernel {kernel}; "
                                     f"got {x.shape}.")
        return x, kernel, stride

    def value(x, kernel_size=2, stride=None):
        return poolaxis_value(kind, *args(x, kernel_size, stride))

    def d_x(sym, x, kernel_size=2, stride=None):
        return pool_derivative(kind, *args(x, kernel_size, stride), sym)

    def example(rng, batch):
        spatial = (5, 6) if dims == 2 else (7,)
        return (rng.normal(size=((batch,) if batch else ()) + (2,) + spatial), 2, 1)

    text = "argmax_k" if kind == "max" else "1/|k|"
    formula = f"dy_co/dx_fi = delta_cf sum_k {text} [i = s o + k]"
    return register(Primitive(f"{kind}_pool{dims}d", ("x",), "y", value, {"x": d_x},
                              {"x": formula}, example))


max_pool1d, max_pool2d = _make("max", 1), _make("max", 2)
avg_pool1d, avg_pool2d = _make("avg", 1), _make("avg", 2)


class _Pool(Layer):
    grammar = "{kind} K [stride S]"
    symbol = "q"
    pool = ""
    dims: int | None = None
    example_input = (2, 6, 5)

    def __init__(self, kernel_size, stride=None) -> None:
        self.kernel_size, self.stride = kernel_size, stride
        per_axis(kernel_size, 1 if isinstance(kernel_size, int) else len(kernel_size),
                 "kernel_size", 1)
        self.formulas = {"x": max_pool1d.formulas["x"] if self.pool == "max" else
                         avg_pool1d.formulas["x"]}

    def _geometry(self, dims):
        kernel = per_axis(self.kernel_size, dims, "kernel_size", 1)
        stride = kernel if self.stride is None else per_axis(self.stride, dims, "stride", 1)
        return kernel, stride

    def output_shape(self, in_shape):
        dims = len(in_shape) - 1
        if dims not in (1, 2) or (self.dims and dims != self.dims):
            wanted = {1: "(C, L)", 2: "(C, H, W)"}.get(self.dims, "(C, L) or (C, H, W)")
            raise ShapeMismatchError(f"{type(self).__name__} takes {wanted} per sample; got "
                                     f"{in_shape}.")
        kernel, stride = self._geometry(dims)
        out = Geometry(dims, stride).out_shape(in_shape[1:], kernel)
        if min(out) < 1:
            raise ShapeMismatchError(f"the pooling window {kernel} is larger than the input "
                                     f"{in_shape[1:]}.")
        return in_shape[:1] + out

    def _dims(self, ctx: Ctx) -> int:
        return ctx.x.ndim - 1 - ctx.batched

    def forward_in(self, x, p, in_shape):
        kernel, stride = self._geometry(len(in_shape) - 1)
        if self.pool == "max":  # keep the selection: the derivative and the shortcut use it
            selection = max_selection(x, kernel, stride)
            lead = x.ndim - len(kernel)
            taps = tuple(lead + 2 * a + 1 for a in range(len(kernel)))
            return np.sum(selection * pool_windows(x, kernel, stride), axis=taps), selection
        return poolaxis_value(self.pool, x, kernel, stride), None

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        kernel, stride = self._geometry(self._dims(ctx))
        return pool_derivative(self.pool, ctx.x, kernel, stride,
                               {"x": ctx.sym["in"], "out": ctx.sym["out"]}, ctx.cache)

    def local_arrays(self, ctx: Ctx, wrt: str):
        if self.pool == "max":
            return (ctx.cache,)
        return tuple(f.array for f in self.local(ctx, wrt).factors)

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        dims = self._dims(ctx)
        kernel, stride = self._geometry(dims)
        lead = g.ndim - dims
        if self.pool == "max":  # route the gradient to each window's maximum
            t = ctx.cache * np.expand_dims(g, tuple(lead + 2 * a + 1 for a in range(dims)))
        else:  # spread it evenly over the window
            t = np.broadcast_to(np.expand_dims(g, tuple(lead + 2 * a + 1 for a in range(dims))),
                                g.shape[:lead] + tuple(n for a in range(dims) for n in
                                                       (g.shape[lead + a], kernel[a])))
            t = t / math.prod(kernel)
        for a in reversed(range(dims)):
            r = Relation.window(INP[a], OUT[a], TAP[a], stride[a])
            t = accumulate(t, lead + 2 * a, r, ctx.x.shape[lead + a])
        return t, {}

    def input_text(self, expr: str, ctx: Ctx) -> str:
        if self.pool == "max":
            return f"route({expr}, argmax of each window)"
        return f"spread({expr}) / |window|"

    @classmethod
    def example(cls):
        return cls((2, 3), stride=(2, 1))

    def spec(self) -> str:
        words = [self.kind, axis_word(self.kernel_size)]
        return " ".join(words + ([] if self.stride is None else [f"s{axis_word(self.stride)}"]))

    @classmethod
    def from_words(cls, words):
        """``K [stride S]``: windows of size K, stride S (the kernel size when left out), each
        an int or one per axis (``3x2``), ``s2`` for short."""
        w = Words(cls, words)
        kernel, stride = w.value("the window size K", axis_value), w.option("stride", axis_value)
        w.done()
        return cls(kernel, stride)

    def __repr__(self) -> str:
        stride = "" if self.stride is None else f", stride={self.stride!r}"
        return f"{type(self).__name__}({self.kernel_size!r}{stride})"


@register_kind
class MaxPool(_Pool):
    """Max pooling over windows of ``kernel_size`` (stride defaults to the kernel size; ties
    go to the first maximum, as in torch); ``tc.MaxPool1d``/``tc.MaxPool2d`` fix the dims.

    >>> import numpy as np, tensorcalc as tc
    >>> tc.Network.stack([tc.MaxPool2d(2)], input_shape=(1, 4, 4))(np.arange(16.0).reshape(
    ...     1, 4, 4)).tolist()
    [[[5.0, 7.0], [13.0, 15.0]]]
    """

    kind = "maxpool"
    pool = "max"


@register_kind
class AvgPool(_Pool):
    """Average pooling over windows of ``kernel_size`` (stride defaults to the kernel size);
    ``tc.AvgPool1d``/``tc.AvgPool2d`` fix the dims."""

    kind = "avgpool"
    pool = "avg"


class MaxPool1d(MaxPool):
    """Max pooling over ``(C, L)`` inputs (see :class:`MaxPool`)."""

    dims = 1


class MaxPool2d(MaxPool):
    """Max pooling over ``(C, H, W)`` inputs (see :class:`MaxPool`)."""

    dims = 2


class AvgPool1d(AvgPool):
    """Average pooling over ``(C, L)`` inputs (see :class:`AvgPool`)."""

    dims = 1


class AvgPool2d(AvgPool):
    """Average pooling over ``(C, H, W)`` inputs (see :class:`AvgPool`)."""

    dims = 2


@register_kind
class Flatten(Layer):
    """``(C, H, W)`` (or any shape) per sample to one vector, row-major like torch's flatten:
    the relation ``f = (H W) c + W h + w``, a reshape when contracted.

    >>> import numpy as np, tensorcalc as tc
    >>> tc.Network.stack([tc.Flatten()], input_shape=(2, 2, 3))(np.ones((2, 2, 3))).shape
    (12,)
    """

    kind = "flatten"
    symbol = "f"
    formulas = {"x": "df_g/dx_chw = [g = (H W) c + W h + w]"}
    example_input = (2, 3, 2)

    def output_shape(self, in_shape):
        return (math.prod(in_shape),)

    def forward_in(self, x, p, in_shape):
        return x.reshape(x.shape[:x.ndim - len(in_shape)] + (-1,)), None

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        n = "n" if ctx.batched else ""
        shape = ctx.x.shape[1:] if ctx.batched else ctx.x.shape
        axes = "chwuv"[: len(shape)]
        strides = [math.prod(shape[j + 1:]) for j in range(len(shape))]
        rel = Relation("g", tuple(zip(axes, strides)))
        sizes = dict(zip(axes, shape)) | {"g": math.prod(shape)} | (
            {"n": ctx.x.shape[0]} if ctx.batched else {})
        term = Term((), n + "g", n + axes, 1.0, (rel,))
        return Derivative._make((term,), sizes, ctx.sym["out"], ctx.sym["in"], ctx.x.dtype)

    def local_arrays(self, ctx: Ctx, wrt: str):
        return ()  # one relation, no factors

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        return g.reshape(ctx.x.shape), {}

    def input_text(self, expr: str, ctx: Ctx) -> str:
        return f"reshape({expr})"


NAMED["flatten"] = Flatten
