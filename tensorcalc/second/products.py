"""Hessian-vector and Gauss-Newton-vector products, exact, without building any block.

Forward over reverse: the forward pass carries the tangent ``R(out)`` of every layer's output in
the direction ``v`` (``R(z) = W R(a) + V_W a + v_b``, ``R(a) = f'(z) (.) R(z)``); the loss
curvature turns the logits' tangent into the tangent of ``delta^L``; the backward pass carries
``R(dC/d out)`` down (``R(delta) = f'(z) (.) R(g) + g (.) f''(z) (.) R(z)``, ``R(g_a) =
W^T R(delta) + V_W^T delta``) and reads ``R(dC/dW) = sum_n R(delta) a^T + delta R(a)^T``. The
Gauss-Newton product keeps only the terms of ``J^T H J v``: the same forward tangent, then a
plain backward pass of ``H J v``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from ..errors import ShapeMismatchError, TensorcalcError
from ..intermediates import boundary_arrays as output_gradients
from ..layers import Activation, Dense
from .loss import loss_curvature
from .template import template


def _directions(net, v: Mapping[str, object]) -> dict[str, np.ndarray]:
    unknown = [k for k in v if k not in net.params]
    if unknown:
        raise TensorcalcError(f"v has {unknown}, which are not parameters; the parameters are "
                              f"{list(net.params)} (leave one out for a zero direction).")
    out = {}
    for name, value in net.params.items():
        d = np.asarray(v.get(name, np.zeros_like(value)), dtype=value.dtype)
        if d.shape != value.shape:
            raise ShapeMismatchError(f"v[{name!r}] has shape {d.shape}; {name} has shape "
                                     f"{value.shape}.")
        out[name] = d
    return out


def _as_rows(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 2 else a[None]


def _outer(rows: np.ndarray, cols: np.ndarray, in_out: bool) -> np.ndarray:
    """sum over samples of ``rows (x) cols`` (an (out, in) weight), transposed for (in, out)."""
    m = _as_rows(rows).T @ _as_rows(cols)
    return m.T if in_out else m


def _apply(H: Derivative, u: np.ndarray) -> np.ndarray:
    """The loss curvature ``H`` (logits by logits) applied to a tangent of the logits."""
    U = Derivative._wrap(np.array(u), u.shape, (), "z", "t")
    return chain(H, U).dense()


def hvp(net, x, y, v: Mapping[str, object], *, gauss_newton: bool = False
        ) -> dict[str, np.ndarray]:
    """The Hessian of the loss by the parameters times ``v`` (a dict of parameter-shaped
    arrays; a missing name is a zero direction), exact, each result in its parameter's
    shape. ``gauss_newton=True`` gives the Gauss-Newton product instead (:func:`ggn_vp`).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", output="softmax",
    ...                         loss="cross_entropy", seed=0)
    >>> x, y = np.array([0.5, -0.2, 0.1]), 1
    >>> Hv = tc.hvp(net, x, y, {"W1": np.ones((4, 3))})
    >>> block = tc.hessian(net, x, y, wrt=("W1", "W1")).dense()
    >>> bool(np.allclose(Hv["W1"], np.einsum("ijkl,kl->ij", block, np.ones((4, 3)))))
    True
    """
    tpl = template(net)
    d = _directions(net, v)
    fw = net.forward(x)
    t = net.loss_fn.targets(fw.output, y)
    records = fw.records
    grads = output_gradients(net, fw, t)
    top = tpl.last.dense
    tangent: dict[int, np.ndarray] = {}
    r = np.zeros_like(fw.x, dtype=net.dtype)
    for k, rec in enumerate(records[: top + 1]):
        layer, ctx = rec.node.layer, rec.ctx
        if isinstance(layer, Dense):
            W, names = ctx.p["W"], rec.node.names
            in_out = layer.weights == "in_out"
            r = (r @ W if in_out else r @ W.T) + (ctx.x @ d[names["W"]] if in_out
                                                  else ctx.x @ d[names["W"]].T)
            if layer.bias:
                r = r + d[names["b"]]
        elif isinstance(layer, Activation):
            r = layer.primitive.hadamard(r, ctx.x)
        tangent[k] = r
    gn, own = loss_curvature(net, fw, t, tpl.output)
    rg = _apply(gn, tangent[top])  # the tangent of delta^L
    if own is not None and not gauss_newton:
        rg = rg + _apply(own, tangent[top])
    out: dict[str, np.ndarray] = {}
    for k in range(top, -1, -1):
        rec = records[k]
        layer, ctx = rec.node.layer, rec.ctx
        r_in = tangent.get(k - 1, np.zeros_like(ctx.x))
        if isinstance(layer, Dense):
            names, W = rec.node.names, ctx.p["W"]
            in_out = layer.weights == "in_out"
            delta = grads[k]
            out[names["W"]] = _outer(rg, ctx.x, in_out) + (
                0.0 if gauss_newton else _outer(delta, r_in, in_out))
            if layer.bias:
                out[names["b"]] = _as_rows(rg).sum(axis=0)
            VW = d[names["W"]]
            rg = (rg @ W.T if in_out else rg @ W) + (
                0.0 if gauss_newton else (delta @ VW.T if in_out else delta @ VW))
        elif isinstance(layer, Activation):
            rg = layer.primitive.hadamard(rg, ctx.x)
            if not gauss_newton:
                rg = rg + layer.primitive.second_hadamard(grads[k], ctx.x) * r_in
    if net.weight_decay:
        for unit in tpl.units:
            name = unit.names["W"]
            out[name] = out[name] + 2.0 * net.weight_decay * d[name]
    return {k: np.asarray(out[k], dtype=net.dtype).reshape(net.params[k].shape)
            for k in net.params}


def ggn_vp(net, x, y, v: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The Gauss-Newton matrix ``J^T H J`` (plus weight decay's ``2c I``) times ``v``: the
    Hessian product without the curvature of the layers, positive semi-definite for a convex
    loss.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> G = tc.gauss_newton(net, np.ones(3), np.zeros(2), wrt=("W2", "W2")).dense()
    >>> Gv = tc.ggn_vp(net, np.ones(3), np.zeros(2), {"W2": np.eye(2, 4)})
    >>> bool(np.allclose(Gv["W2"], np.einsum("ijkl,kl->ij", G, np.eye(2, 4))))
    True
    """
    return hvp(net, x, y, v, gauss_newton=True)
