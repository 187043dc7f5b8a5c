"""What the blocks need from the loss end: every layer's upstream gradient, and the curvature
of the loss in the logits (the output activation included)."""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor
from ..errors import TensorcalcError


def output_gradients(net, fw, y) -> dict[int, np.ndarray]:
    """dC/d(output of layer k) for every layer k (0-based), by the layers' shortcut backward."""
    records = fw.records
    g = net.loss_fn.gradient(fw.output, y)
    out = {}
    for k in range(len(records) - 1, -1, -1):
        out[k] = g
        g, _ = records[k].node.layer.backward(g, records[k].ctx)
    return out


def loss_curvature(net, fw, y, output) -> Derivative:
    """d2C/dz dz for the logits z (the input of the output activation): provisional, the
    fused softmax and cross-entropy only."""
    if not (net.loss_fn.name == "cross_entropy" and output is not None):
        raise TensorcalcError("second order covers softmax with cross-entropy so far.")
    p = fw.output
    k = net.loss_fn.scale / (p.shape[0] if p.ndim == 2 and net.loss_fn.reduction == "mean"
                              else 1.0)
    n = "n" if p.ndim == 2 else ""
    sizes = {"i": p.shape[-1], "j": p.shape[-1]} | ({"n": p.shape[0]} if n else {})
    a = Derivative((Factor(p * k, n + "i", "p"),), n + "i", n + "i", sizes, "dC/dz", "z",
                   _checked=True)
    b = Derivative((Factor(p * k, n + "i", "p"), Factor(p, n + "j", "p")), n + "i", n + "j",
                   sizes, "dC/dz", "z", _checked=True)
    return a - b
