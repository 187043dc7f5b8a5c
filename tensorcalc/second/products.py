"""Hessian-vector and Gauss-Newton-vector products, exact, without building any block.

Forward over reverse: the forward pass carries the tangent ``R(out)`` of every layer's output in
the direction ``v`` (a bilinear layer ``B(W, a)``: ``B(W, R(a)) + B(V_W, a) + v_b``; an
activation ``f'(z) (.) R(z)``; a linear layer, a hidden softmax and a norm their structured
Jacobians applied, a norm's by gamma and beta too); the loss curvature turns the logits'
tangent into the tangent of their gradient; the backward pass carries ``R(dC/d out)`` down
with each layer's own shortcut backward, plus the layer's second-order terms (an activation's
``g (.) f''(z) (.) R(z)``; a bilinear layer's backward with ``R(a)`` in place of ``a`` for its
weight and with ``V_W`` in place of ``W`` for its input, both exact because the backward is
linear in each; a hidden softmax's or a norm's curvature map, and a norm's gamma-by-input
term, applied to the tangents). Only a layer kind without structured parts goes by complex
step. The Gauss-Newton product keeps only ``J^T H J v``: the same
forward tangent, then a plain backward pass of ``H J v``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from ..core.validate import complex_step
from ..errors import ShapeMismatchError, TensorcalcError
from ..intermediates import boundary_arrays as output_gradients
from ..network.forward import run
from .curved import curvature_map, gamma_input
from .loss import loss_curvature
from .maps import transpose
from .template import role, template


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


def _require_mapping(net, v, who: str) -> None:
    """``v`` must map parameter names to parameter-shaped arrays."""
    if not isinstance(v, Mapping):
        shape = getattr(v, "shape", None)
        got = f"{type(v).__name__} of shape {tuple(shape)}" if shape is not None else (
            type(v).__name__)
        shapes = ", ".join(f"{k!r}: {a.shape}" for k, a in net.params.items())
        raise TensorcalcError(f"{who}'s v must be a dict from parameter name to an array of "
                              f"that parameter's shape ({{{shapes}}}; leave a name out for a "
                              f"zero direction); got a {got}.")


def hvp(net, x, y, v: Mapping[str, object], *, gauss_newton: bool = False
        ) -> dict[str, np.ndarray]:
    """The Hessian of the loss by the parameters times ``v`` (a dict of parameter-shaped
    arrays; a missing name is a zero direction), exact, each result in its parameter's
    shape; ``v`` of another type is a :class:`~tensorcalc.TensorcalcError` listing the
    parameters' names and shapes. ``gauss_newton=True`` gives the Gauss-Newton product instead
    (:func:`ggn_vp`).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", output="softmax",
    ...                         loss="cross_entropy", seed=0)
    >>> x, y = np.array([0.5, -0.2, 0.1]), 1
    >>> Hv = tc.hvp(net, x, y, {"W1": np.ones((4, 3))})
    >>> block = tc.hessian(net, x, y, wrt=("W1", "W1")).dense()
    >>> bool(np.allclose(Hv["W1"], np.einsum("ijkl,kl->ij", block, np.ones((4, 3)))))
    True
    """
    _require_mapping(net, v, "ggn_vp" if gauss_newton else "hvp")
    tpl = template(net)
    d = _directions(net, v)
    fw = net.forward(x)
    t = net.loss_fn.targets(fw.output, y)
    records = fw.records[: tpl.top + 1]
    lead = tpl.units[0] if tpl.units else None  # an embedding reading the data, or None
    first = lead.pos[0] if lead and lead.kind == "embedding" and len(lead.pos) == 1 else None
    tangents = _forward(net, records, np.zeros(fw.x.shape, dtype=net.dtype), d, first)
    gn, own = loss_curvature(net, fw, t, tpl.output)
    rg = _apply(gn, tangents[-1][0])  # the tangent of dC/d(logits)
    if own is not None and not gauss_newton:
        rg = rg + _apply(own, tangents[-1][0])
    g = output_gradients(net, fw, t)[tpl.top]
    out: dict[str, np.ndarray] = {}
    _backward(records, tangents, np.zeros(fw.x.shape), g, rg, d, out,
              second=not gauss_newton, top=True, first=first)
    nodes = [node for top_node in net.nodes for node in top_node.walk()]
    for node in nodes if net.weight_decay else ():  # inside residual blocks too
        for s in node.layer.decay:
            name = node.names[s]
            out[name] = out[name] + 2.0 * net.weight_decay * d[name]
    return {k: np.asarray(out[k], dtype=net.dtype).reshape(net.params[k].shape)
            for k in net.params}


def _role(rec, k: int, first) -> str:
    return "embedding" if k == first else _product_role(rec.node.layer)


def _product_role(layer) -> str:
    """A layer's role in the products (as in the blocks, an embedding only as the first)."""
    return role(layer, 1, False)


def _forward(net, records, r, d: dict, first=None) -> list:
    """Per record: (the tangent of its output, what its backward needs: a residual block's
    inner tangents, or a generic layer's record at x + i h R(x))."""
    out = []
    for k, rec in enumerate(records):
        if rec.node.children:  # y = x + f(x)
            inner = _forward(net, list(rec.inner), r, d)
            r = r + inner[-1][0]
            out.append((r, inner))
            continue
        kind = _role(rec, k, first)
        if kind == "generic":
            stepped = _stepped(net, rec, r, d)
            r = stepped.ctx.y.imag / STEP
            out.append((r, stepped))
        else:
            r = _forward_tangent(rec, kind, r, d)
            out.append((r, None))
    return out


def _backward(records, tangents, r_input, g, rg, d: dict, out: dict, *, second: bool,
              top: bool = False, first=None):
    """Walk ``records`` down from dC/d(output) ``g`` and its tangent ``rg``; return both for
    the input (the parameter gradients' tangents go into ``out``)."""
    for k in range(len(records) - 1, -1, -1):
        rec = records[k]
        r_in = tangents[k - 1][0] if k else r_input
        want_input = not (top and (k == 0 or k == first))
        if rec.node.children:
            g_inner, rg_inner = _backward(list(rec.inner), tangents[k][1], r_in, g, rg, d, out,
                                          second=second)
            g, rg = g + g_inner, rg + rg_inner
            continue
        kind = _role(rec, k, first) if top else _product_role(rec.node.layer)
        g_in = rec.node.layer.backward(g, rec.ctx, True)[0] if want_input else None
        if kind == "generic":
            rg = _generic_backward(rec, tangents[k][1], rg, g, out, second=second)
        else:
            rg = _backward_tangent(rec, kind, rg, g, r_in, d, out, second=second,
                                   want_input=want_input)
        g = g_in
        if top and k == first:  # the embedding reads the data: nothing below has parameters
            break
    return g, rg


#: The complex step: ``Im f(x + i h v) / h`` is the directional derivative of an analytic
#: ``f`` with no cancellation, so h can be tiny and the result is exact to rounding.
STEP = 1e-20


def _stepped(net, rec, r: np.ndarray, d: dict):
    """A layer (or block) run again at ``x + i h R(x)`` with parameters ``p + i h v``."""
    node = rec.node
    params = dict(net.params)
    for sub in node.walk():
        for name in sub.names.values():
            params[name] = params[name] + 1j * STEP * d[name]
    with complex_step():
        return run([node], params, rec.ctx.x + 1j * STEP * r, rec.ctx.batched)[0]


def _generic_backward(rec, stepped, rg, g, out: dict, *, second: bool):
    """A layer without structured parts: ``J^T R(g)`` by its backward, plus (``second``) the
    derivative of its backward along the tangent, by complex step."""
    layer, names = rec.node.layer, rec.node.names
    gx, grads = layer.backward(rg, rec.ctx, True)
    if second:
        with complex_step():
            gx_moved, moved = layer.backward(np.asarray(g, dtype=complex), stepped.ctx, True)
        grads = {k: v + moved[k].imag / STEP for k, v in grads.items()}
        gx = gx + gx_moved.imag / STEP
    out.update({names[k]: v for k, v in grads.items()})
    return gx


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
    tangent = _apply(layer.local(ctx, "x"), r)  # its Jacobian applied, structured
    if role == "norm":  # and gamma's and beta's, applied to their directions
        for s in ("gamma", "beta"):
            tangent = tangent + _apply(layer.local(ctx, s), d[names[s]])
    return tangent


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
    if role in ("curved", "norm") and second:
        return _curved_terms(rec, role, gx, g, r_in, d, out, want_input)
    if role == "bilinear" and second:
        weight = "W" if "W" in ctx.p else "K"
        if want_input:  # the weight's gradient is linear in the input; the input's in W
            extra = layer.backward(g, ctx._replace(x=r_in), False)[1][weight]
            out[names[weight]] = out[names[weight]] + extra
            swapped = dict(ctx.p) | {weight: d[names[weight]]}
            gx = gx + layer.backward(g, ctx._replace(p=swapped), True)[0]
    return gx


def _curved_terms(rec, role: str, gx, g, r_in, d: dict, out: dict, want_input: bool):
    """A hidden softmax's or a norm's own second-order terms along the tangent, from the same
    structured maps as the blocks: its curvature map ``M`` (input by input) adds ``M R(x)`` to
    the input's tangent; a norm's ``E = d(dC/dgamma)/dx`` adds ``E R(x)`` to gamma's and
    ``E^T v_gamma`` to the input's (beta enters linearly: no term)."""
    if want_input:
        gx = gx + _apply(curvature_map(rec, g), r_in)
    if role == "norm":
        E, gamma = gamma_input(rec, g), rec.node.names["gamma"]
        out[gamma] = out[gamma] + _apply(E, r_in)
        if want_input:
            gx = gx + _apply(transpose(E), d[gamma])
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
    _require_mapping(net, v, "ggn_vp")
    return hvp(net, x, y, v, gauss_newton=True)
