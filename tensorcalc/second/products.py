"""Hessian-vector and Gauss-Newton-vector products, exact, without building any block.

Forward over reverse: the forward pass carries the tangent ``R(out)`` of every layer's output in
the direction ``v`` (a bilinear layer ``B(W, a)``: ``B(W, R(a)) + B(V_W, a) + v_b``; an
activation ``f'(z) (.) R(z)``; a linear layer its Jacobian applied); the loss curvature turns the
logits' tangent into the tangent of their gradient; the backward pass carries ``R(dC/d out)``
down with each layer's own shortcut backward, plus the layer's second-order terms (an
activation's ``g (.) f''(z) (.) R(z)``; a bilinear layer's backward with ``R(a)`` in place of
``a`` for its weight and with ``V_W`` in place of ``W`` for its input, both exact because the
backward is linear in each). The Gauss-Newton product keeps only ``J^T H J v``: the same
forward tangent, then a plain backward pass of ``H J v``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from ..errors import ShapeMismatchError, TensorcalcError
from ..intermediates import boundary_arrays as output_gradients
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
    records, grads = fw.records, output_gradients(net, fw, t)
    roles = {u.index: ("bilinear" if u.bilinear else "embedding") for u in tpl.units}
    roles |= dict.fromkeys(tpl.activations, "elementwise")
    tangent: dict[int, np.ndarray] = {}
    r = np.zeros(fw.x.shape, dtype=net.dtype)
    for k, rec in enumerate(records[: tpl.top + 1]):
        r = tangent[k] = _forward_tangent(rec, roles.get(k, "linear"), r, d)
    gn, own = loss_curvature(net, fw, t, tpl.output)
    rg = _apply(gn, tangent[tpl.top])  # the tangent of dC/d(logits)
    if own is not None and not gauss_newton:
        rg = rg + _apply(own, tangent[tpl.top])
    out: dict[str, np.ndarray] = {}
    for k in range(tpl.top, -1, -1):
        r_in = tangent.get(k - 1, np.zeros(records[k].ctx.x.shape))
        rg = _backward_tangent(records[k], roles.get(k, "linear"), rg, grads[k], r_in, d,
                               out, second=not gauss_newton, want_input=k > 0)
    for unit in tpl.units if net.weight_decay else ():
        for s in net.layers[unit.index].decay:
            name = unit.names[s]
            out[name] = out[name] + 2.0 * net.weight_decay * d[name]
    return {k: np.asarray(out[k], dtype=net.dtype).reshape(net.params[k].shape)
            for k in net.params}


def _forward_tangent(rec, role: str, r: np.ndarray, d: dict) -> np.ndarray:
    """The tangent of a layer's output from its input's tangent ``r`` and the directions."""
    layer, ctx, names = rec.node.layer, rec.ctx, rec.node.names
    shape = rec.node.in_shape
    if role == "bilinear":  # B(theta, r) + B(v, x), the bias's direction once
        plain = {s: (np.zeros_like(a) if s == "b" else a) for s, a in ctx.p.items()}
        return (layer.forward_in(r, plain, shape)[0]
                + layer.forward_in(ctx.x, {s: d[names[s]] for s in ctx.p}, shape)[0])
    if role == "embedding":
        return layer.forward_in(ctx.x, {"C": d[names["C"]]}, shape)[0]
    if role == "elementwise":
        return layer.primitive.hadamard(r, ctx.x)
    J = layer.local(ctx, "x")  # a linear layer: its Jacobian applied, structured
    return chain(J, Derivative._wrap(np.array(r), r.shape, (), "x", "t")).dense()


def _backward_tangent(rec, role: str, rg, g, r_in, d: dict, out: dict, *, second: bool,
                      want_input: bool):
    """The tangent of dC/d(input) from the tangent ``rg`` of dC/d(output) (``g``), filling
    the tangents of the layer's parameter gradients into ``out``; ``second`` adds the terms
    of the layer's own second derivative (not in the Gauss-Newton product)."""
    layer, ctx, names = rec.node.layer, rec.ctx, rec.node.names
    if role == "elementwise":
        rg = layer.primitive.hadamard(rg, ctx.x)
        return rg + layer.primitive.second_hadamard(g, ctx.x) * r_in if second else rg
    if role == "linear":
        return layer.backward(rg, ctx, True)[0]
    gx, found = layer.backward(rg, ctx, want_input)
    out.update({names[s]: a for s, a in found.items()})
    if role == "bilinear" and second:
        weight = "W" if "W" in ctx.p else "K"
        if want_input:  # the weight's gradient is linear in the input; the input's in W
            extra = layer.backward(g, ctx._replace(x=r_in), False)[1][weight]
            out[names[weight]] = out[names[weight]] + extra
            swapped = dict(ctx.p) | {weight: d[names[weight]]}
            gx = gx + layer.backward(g, ctx._replace(p=swapped), True)[0]
    return gx


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
