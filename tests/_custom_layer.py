"""A layer kind the library does not know, written by a user: ``y = s (.) x`` with a learned
scale ``s`` per feature. Second order has no structured parts for it, so it goes by complex
step on its own forward and backward."""

import numpy as np

import tensorcalc as tc
from tensorcalc.core.derivative import Derivative
from tensorcalc.layers.base import Layer


class Scale(Layer):
    kind = "scale"
    symbol = "s"
    params = ("s",)

    def output_shape(self, in_shape):
        return in_shape

    def param_shapes(self, in_shape):
        return {"s": in_shape}

    def init(self, rng, in_shape, dtype):
        return {"s": (1.0 + rng.normal(0, 0.3, in_shape)).astype(dtype)}

    def forward(self, x, p):
        return p["s"] * x, None

    def local(self, ctx, wrt):
        values = ctx.p["s"] if wrt == "x" else ctx.x
        n = ctx.x.shape[0] if ctx.batched else 1
        dense = np.einsum("ni,ij->nij", np.broadcast_to(values, (n,) + values.shape[-1:]),
                          np.eye(values.shape[-1]))
        if ctx.batched and wrt == "x":
            dense = np.einsum("nij,nm->nimj", dense, np.eye(n))
            return Derivative.from_array(dense, ctx.x.shape, ctx.x.shape)
        if ctx.batched:
            return Derivative.from_array(dense, ctx.x.shape, ctx.p["s"].shape)
        return Derivative.from_array(dense[0], ctx.x.shape, ctx.x.shape)

    def backward(self, g, ctx, want_input=True):
        ds = np.sum(g * ctx.x, axis=0) if ctx.batched else g * ctx.x
        return (g * ctx.p["s"] if want_input else None), {"s": ds}

    def input_text(self, expr, ctx):
        return f"s (.) {expr}"

    def param_text(self, name, delta, ctx):
        return f"{delta} (.) x"


def scaled_network():
    return tc.Network.stack([tc.Dense(3), Scale(), "tanh", tc.Dense(2)], input_shape=(2,),
                            loss="squared_error", seed=0)
