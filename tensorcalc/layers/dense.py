"""Fully connected layers: ``z = W a + b`` with W stored (out, in), or ``z = a W + b`` with W
stored (in, out) as row-major courses write it. One primitive each, one layer kind for both.

Labels: the output index is ``i``, the input index ``j``, a batch ``n`` (shared by output and
input, never block-diagonal). ``dz_i/dW_kj = delta_ik a_j`` keeps the delta as a label, so the
3-tensor is never built.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor
from ..core.validate import as_float_array
from ..errors import ShapeMismatchError, TensorcalcError, UnknownNameError
from .base import Ctx, Layer, register_kind, wrap
from .primitive import Primitive, register
from .words import Words

WEIGHTS = ("out_in", "in_out")


def _make_linear(name: str, in_out: bool) -> Primitive:
    """The primitive for one weight convention; W's labels are ``"ij"`` or ``"ji"``."""
    w_labels = "ji" if in_out else "ij"
    n_out_axis, n_in_axis = (1, 0) if in_out else (0, 1)
    shape_text = "(n_in, n_out)" if in_out else "(n_out, n_in)"

    def check(W, a, b=None):
        W, a = as_float_array(W, "W"), as_float_array(a, "a")
        if W.ndim != 2:
            raise ShapeMismatchError(f"W must be a matrix {shape_text}; got shape {W.shape}.")
        n_in, n_out = W.shape[n_in_axis], W.shape[n_out_axis]
        if a.ndim not in (1, 2) or a.shape[-1] != n_in:
            raise ShapeMismatchError(
                f"a must have shape ({n_in},) or (N, {n_in}) to match W of shape "
                f"{W.shape}; got {a.shape}.")
        if b is not None:
            b = as_float_array(b, "b")
            if b.shape != (n_out,):
                raise ShapeMismatchError(f"b must have shape ({n_out},) for W of shape "
                                         f"{W.shape}; got {b.shape}.")
        return W, a, b

    def value(W, a, b=None):
        W, a, b = check(W, a, b)
        z = a @ W if in_out else a @ W.T
        return z if b is None else z + b

    def lab(a, labels: str) -> str:
        return ("n" + labels) if a.ndim == 2 else labels

    def sizes(W, a):
        s = {"i": W.shape[n_out_axis], "j": W.shape[n_in_axis]}
        if a.ndim == 2:
            s["n"] = a.shape[0]
        return s

    def d_a(sym, W, a, b=None):
        W, a, b = check(W, a, b)
        return Derivative((Factor(W, w_labels, sym["W"]),), lab(a, "i"), lab(a, "j"),
                          sizes(W, a), sym["out"], sym["a"])

    def d_W(sym, W, a, b=None):
        W, a, b = check(W, a, b)
        return Derivative((Factor(a, lab(a, "j"), sym["a"]),), lab(a, "i"), w_labels,
                          sizes(W, a), sym["out"], sym["W"])

    def d_b(sym, W, a, b=None):
        W, a, b = check(W, a, b)
        return Derivative((), lab(a, "i"), "i", sizes(W, a), sym["out"], sym["b"],
                          _dtype=np.result_type(W, a))

    def example(rng, batch):
        a = rng.normal(size=(batch, 3) if batch else 3)
        W = rng.normal(size=(3, 4) if in_out else (4, 3))
        return W, a, rng.normal(size=4)

    formulas = ({"a": "dz_i/da_j = W_ji", "W": "dz_i/dW_jk = a_j delta_ik",
                 "b": "dz_i/db_k = delta_ik"} if in_out else
                {"a": "dz_i/da_j = W_ij", "W": "dz_i/dW_kj = delta_ik a_j",
                 "b": "dz_i/db_k = delta_ik"})
    return register(Primitive(name, ("W", "a", "b"), "z", value,
                              {"a": d_a, "W": d_W, "b": d_b}, formulas, example))


linear = _make_linear("linear", in_out=False)
linear_in_out = _make_linear("linear_in_out", in_out=True)


@register_kind
class Dense(Layer):
    """A fully connected layer with ``n_out`` outputs: ``z = W a + b`` with W of shape
    (n_out, n_in) (``weights="out_in"``, torch's convention), or ``z = a W + b`` with W of shape
    (n_in, n_out) (``weights="in_out"``). Its parameters are named ``W<l>`` and ``b<l>``.

    >>> import tensorcalc as tc
    >>> net = tc.Network.stack([tc.Dense(4, weights="in_out"), "relu", tc.Dense(2)],
    ...                        input_shape=(3,))
    >>> net.params["W1"].shape, net.params["W2"].shape
    ((3, 4), (2, 4))
    """

    kind = "dense"
    grammar = "dense N [nobias] [in_out]"
    symbol = "z"
    decay = ("W",)

    def __init__(self, n_out: int, bias: bool = True, weights: str = "out_in") -> None:
        if not isinstance(n_out, (int, np.integer)) or isinstance(n_out, bool) or n_out < 1:
            raise TensorcalcError(f"Dense(n_out) needs a whole number of outputs >= 1; got "
                                  f"{n_out!r}.")
        if weights not in WEIGHTS:
            raise UnknownNameError(f"unknown weights={weights!r}; valid values are "
                                   f"{', '.join(map(repr, WEIGHTS))}.")
        self.n_out, self.bias, self.weights = int(n_out), bool(bias), weights
        self.primitive = linear_in_out if weights == "in_out" else linear
        self.params = ("W", "b") if bias else ("W",)
        f = self.primitive.formulas
        self.formulas = {"x": f["a"], "W": f["W"], "b": f["b"]} if bias else {
            "x": f["a"], "W": f["W"]}

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise ShapeMismatchError(f"a dense layer takes vectors, but its input has shape "
                                     f"{in_shape} per sample; flatten it first.")
        return (self.n_out,)

    def param_shapes(self, in_shape):
        (n_in,) = in_shape
        W = (n_in, self.n_out) if self.weights == "in_out" else (self.n_out, n_in)
        return {"W": W, "b": (self.n_out,)} if self.bias else {"W": W}

    def init(self, rng, in_shape, dtype):
        (n_in,) = in_shape
        W = rng.normal(0, 1 / np.sqrt(n_in), (self.n_out, n_in))
        params = {"W": np.ascontiguousarray(W.T) if self.weights == "in_out" else W}
        if self.bias:
            params["b"] = rng.normal(0, 0.1, self.n_out)
        return {k: v.astype(dtype) for k, v in params.items()}

    def forward(self, x, p):
        W, b = p["W"], p.get("b")
        z = x @ W if self.weights == "in_out" else x @ W.T
        return (z if b is None else z + b), None

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        names = {"W": ctx.sym["W"], "a": ctx.sym["in"], "b": ctx.sym.get("b", "b"),
                 "out": ctx.sym["out"]}
        return self.primitive.derivative(ctx.p["W"], ctx.x, ctx.p.get("b"),
                                         wrt="a" if wrt == "x" else wrt, names=names)

    def local_arrays(self, ctx: Ctx, wrt: str):
        return {"x": (ctx.p["W"],), "W": (ctx.x,), "b": ()}[wrt]

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        W, x = ctx.p["W"], ctx.x
        if self.weights == "in_out":
            gx = g @ W.T if want_input else None
            gW = x.T @ g if g.ndim == 2 else np.outer(x, g)
        else:
            gx = g @ W if want_input else None
            gW = g.T @ x if g.ndim == 2 else np.outer(g, x)
        grads = {"W": gW}
        if self.bias:
            grads["b"] = g.sum(axis=0) if g.ndim == 2 else g
        return gx, grads

    def input_text(self, expr: str, ctx: Ctx) -> str:
        W = ctx.sym["W"]
        return f"{wrap(expr)} {W}T" if self.weights == "in_out" else f"{W}T {wrap(expr)}"

    def param_text(self, name: str, delta: str, ctx: Ctx) -> str:
        summed = " summed over samples" if ctx.batched else ""
        if name == "b":
            return f"{delta}{summed}"
        if self.weights == "in_out":
            return f"{ctx.sym['in']}T {delta}" if ctx.batched else f"{ctx.sym['in']} {delta}T"
        return f"{delta} {ctx.sym['in']}T{summed}"

    @classmethod
    def example(cls):
        return cls(3, weights="in_out")

    @classmethod
    def from_words(cls, words):
        w = Words(cls, words)
        n_out, bias, in_out = w.value("the width N"), not w.flag("nobias"), w.flag("in_out")
        w.done()
        return cls(n_out, bias=bias, weights="in_out" if in_out else "out_in")

    def spec(self) -> str:
        extra = ("" if self.bias else " nobias") + ("" if self.weights == "out_in" else " in_out")
        return f"dense {self.n_out}{extra}"

    def __repr__(self) -> str:
        extra = ("" if self.bias else ", bias=False") + (
            "" if self.weights == "out_in" else f", weights={self.weights!r}")
        return f"Dense({self.n_out}{extra})"
