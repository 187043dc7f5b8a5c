"""dC/d(output of layer l) for every layer l of a stack: the gradients at layer boundaries, by
each backprop method (``backprop(..., intermediates=True)``).

Layers count as ``net.layers`` lists them, 1-based, activations and Flatten included, as
``tc.jacobian(net, x, of=l)`` counts; a residual block is one layer. ``full`` walks the chain
of structured input derivatives down from the loss, contracting at each boundary; ``dense``
materialises each local derivative first; ``shortcut`` records what each layer's backward
formula receives; ``numeric`` perturbs a layer's output and runs the layers above it.
"""

from __future__ import annotations

import numpy as np

from .core.chain import chain
from .core.derivative import Derivative
from .jacobian import input_derivative
from .network.forward import run
from .numeric import numerical_derivative


def _as_gradient(array: np.ndarray, symbol: str) -> Derivative:
    return Derivative._wrap(np.array(array), (), array.shape, "C", symbol)


def back_through(rec, g: np.ndarray) -> np.ndarray:
    """dC/d(input of a layer) from dC/d(its output) by the layer's shortcut (a residual
    block: its inner stack, and the sum rule)."""
    if rec.node.children:
        inner = g
        for r in reversed(rec.inner):
            inner = back_through(r, inner)
        return rec.node.layer.merge(g, inner)
    return rec.node.layer.backward(g, rec.ctx, True)[0]


def boundary_arrays(net, fw, y) -> dict[int, np.ndarray]:
    """dC/d(output of layer k) for every layer k (0-based) as arrays, by the shortcut."""
    records = fw.records
    g = net.loss_fn.gradient(fw.output, y)
    out = {}
    for k in range(len(records) - 1, -1, -1):
        out[k] = g
        if k:
            g = back_through(records[k], g)
    return out


def intermediates(net, fw, y, method: str) -> dict[int, Derivative]:
    """Layer index (1-based) -> dC/d(that layer's output) as a gradient ``Derivative``."""
    records = fw.records
    out: dict[int, Derivative] = {}
    if method == "numeric":
        batched = fw.x.ndim > len(net.input_shape)
        for k, rec in enumerate(records):
            def loss_from(v, k=k):
                top = run(net.nodes[k + 1:], net.params, v, batched)
                return net.loss_fn(top[-1].ctx.y if top else v, y)

            d = numerical_derivative(loss_from, rec.ctx.y, of="C", wrt=rec.ctx.sym["out"])
            out[k + 1] = d
        return out
    if method == "shortcut":
        return {k + 1: _as_gradient(g, records[k].ctx.sym["out"])
                for k, g in boundary_arrays(net, fw, y).items()}
    g = net.loss_fn.derivative(fw.output, y, names={net.loss_fn.args[0]:
                                                     records[-1].ctx.sym["out"]})
    for k in range(len(records) - 1, -1, -1):
        out[k + 1] = g
        if k:
            local = input_derivative(records[k])
            if method == "dense":
                local.check_dense_size()
                local = Derivative._wrap(local.dense(), local.out_shape, local.in_shape,
                                         local.of, local.wrt)
            g = chain(g, local).contracted(f"dC/d{records[k].ctx.sym['in']}")
    return out
