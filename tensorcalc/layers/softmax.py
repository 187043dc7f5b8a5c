"""Softmax and log-softmax: Jacobians that are not diagonal, kept as two terms of O(n) storage.

``dp_i/dz_j = p_i delta_ij - p_i p_j`` is a diagonal term minus a rank-one term, so a row
gradient chained with it costs O(n), and the n x n matrix is built only when asked for.

Their second derivatives are sums of such terms too (input labels ``jk``, a batch label shared
by the output and both input copies): five terms for softmax, two for log-softmax.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.validate import as_float_array
from ..errors import ShapeMismatchError
from .base import NAMED, Ctx, Layer, register_kind
from .primitive import Primitive, example_normal, feature_labels, register, structured


def softmax_value(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax_value(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _vector_or_batch(z, name):
    z = as_float_array(z, name)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ShapeMismatchError(f"{name} must be a vector (n,) or a batch (N, n) with n >= 1; "
                                 f"got shape {z.shape}.")
    return z


def _labels(p):
    """(i-side, j-side, sizes): ``"i", "j"`` for a vector, ``"ni", "nj"`` for a batch."""
    i = feature_labels(p.ndim)
    j = i[:-1] + "j"
    return i, j, dict(zip(i, p.shape)) | {"j": p.shape[-1]}


def softmax_jacobian(p: np.ndarray, sym) -> Derivative:
    """``p_i delta_ij - p_i p_j`` from the probabilities ``p`` themselves."""
    i, j, sizes = _labels(p)
    s = sym["out"]
    return structured([(1.0, [(p, i, s)], i, i), (-1.0, [(p, i, s), (p, j, s)], i, j)],
                      sizes, sym["out"], sym["z"])


def _d_softmax(sym, z):
    return softmax_jacobian(softmax_value(_vector_or_batch(z, "z")), sym)


def _d_log_softmax(sym, z):
    p = softmax_value(_vector_or_batch(z, "z"))
    i, j, sizes = _labels(p)
    return structured([(1.0, [], i, i), (-1.0, [(p, j, "p")], i, j)], sizes, sym["out"],
                      sym["z"], p.dtype)


def _second_labels(p):
    """(i, j, k, sizes): the output's labels and those of the two input copies."""
    i, j, sizes = _labels(p)
    return i, j, i[:-1] + "k", sizes | {"k": p.shape[-1]}


def softmax_second(p: np.ndarray, sym) -> Derivative:
    """``d2p_i/dz_j dz_k = p_i (delta_ij - p_j)(delta_ik - p_k) - p_i p_j (delta_jk - p_k)``,
    expanded into five structured terms, from the probabilities ``p``."""
    i, j, k, sizes = _second_labels(p)
    s = sym["out"]
    pi, pj, pk = (p, i, s), (p, j, s), (p, k, s)
    return structured([(1.0, [pi], i, i + i), (-1.0, [pi, pk], i, i + k),
                       (-1.0, [pi, pj], i, j + i), (-1.0, [pi, pj], i, j + j),
                       (2.0, [pi, pj, pk], i, j + k)], sizes, sym["out"], sym["z"])


def _d2_softmax(sym, z):
    return softmax_second(softmax_value(_vector_or_batch(z, "z")), sym)


def _d2_log_softmax(sym, z):
    p = softmax_value(_vector_or_batch(z, "z"))
    i, j, k, sizes = _second_labels(p)
    pj, pk = (p, j, "p"), (p, k, "p")
    return structured([(-1.0, [pj], i, j + j), (1.0, [pj, pk], i, j + k)], sizes, sym["out"],
                      sym["z"], p.dtype)


softmax = register(Primitive(
    "softmax", ("z",), "p", lambda z: softmax_value(_vector_or_batch(z, "z")),
    {"z": _d_softmax}, {"z": "dp_i/dz_j = p_i delta_ij - p_i p_j"}, example_normal,
    {"z": _d2_softmax},
    {"z": "d2p_i/dz_j dz_k = p_i (delta_ij - p_j)(delta_ik - p_k) - p_i p_j (delta_jk - p_k)"
          " = p_i delta_ij delta_ik - p_i p_k delta_ij - p_i p_j delta_ik - p_i p_j delta_jk"
          " + 2 p_i p_j p_k"}))
log_softmax = register(Primitive(
    "log_softmax", ("z",), "logp", lambda z: log_softmax_value(_vector_or_batch(z, "z")),
    {"z": _d_log_softmax}, {"z": "dlogp_i/dz_j = delta_ij - p_j"}, example_normal,
    {"z": _d2_log_softmax},
    {"z": "d2logp_i/dz_j dz_k = -(p_j delta_jk - p_j p_k) (the same for every i)"}))


@register_kind
class Softmax(Layer):
    """Softmax over the last axis as a layer (``"softmax"`` in a stack means the same).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Dense(3), tc.Softmax()], loss="cross_entropy",
    ...                        input_shape=(2,))
    >>> float(net(np.ones(2)).sum())
    1.0
    """

    kind = "softmax"
    symbol = "a"
    primitive = softmax
    formulas = {"x": softmax.formulas["z"]}

    def forward(self, x, p):
        return softmax_value(x), None

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        return softmax_jacobian(ctx.y, {"out": ctx.sym["out"], "z": ctx.sym["in"]})

    def local_arrays(self, ctx: Ctx, wrt: str):
        return (ctx.y, ctx.y, ctx.y)

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        p = ctx.y
        return p * (g - np.sum(g * p, axis=-1, keepdims=True)), {}

    def input_text(self, expr: str, ctx: Ctx) -> str:
        p = ctx.sym["out"]
        return f"{p} (.) ({expr} - <{expr}, {p}>)"

    def __repr__(self) -> str:
        return "'softmax'"


NAMED["softmax"] = Softmax
