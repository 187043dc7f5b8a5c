"""The shortcut backprop: each layer's classic backward formula in plain numpy, walked down the
stack (a residual block adds its skip path), with the fused softmax + cross-entropy and sigmoid +
binary cross-entropy deltas ``p - y`` at the top."""

from __future__ import annotations

import numpy as np


def _walk(records, g, grads: dict):
    for rec in reversed(records):
        node = rec.node
        if node.children:
            inner = _walk(rec.inner, g, grads)
            g = None if inner is None else node.layer.merge(g, inner)
        else:
            g, found = node.layer.backward(g, rec.ctx, node.need_input)
            grads.update({node.names[s]: v for s, v in found.items()})
        if not node.need_input:
            return None
    return g


def shortcut(net, fw, y) -> tuple[dict[str, np.ndarray], int]:
    """Every parameter's gradient by the shortcut formulas, and the largest array's bytes."""
    records, loss = fw.records, net.loss_fn
    if loss.fuses(records[-1].node.layer):
        g, records = loss.fused_delta(fw.output, y), records[:-1]
    else:
        g = loss.derivative(fw.output, y).compact
    grads: dict[str, np.ndarray] = {}
    gx = _walk(records, g, grads)
    if gx is not None:  # the network was marked for the input's gradient
        grads["x"] = gx
    if net.weight_decay:
        for node in (n for top in net.nodes for n in top.walk()):
            for s in node.layer.decay:
                name = node.names[s]
                grads[name] = grads[name] + 2.0 * net.weight_decay * net.params[name]
    largest = max([g.nbytes] + [v.nbytes for v in grads.values()])
    return {k: grads[k] for k in [*net.params, "x"] if k in grads}, largest
