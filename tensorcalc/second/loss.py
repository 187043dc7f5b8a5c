"""The curvature of the loss at the logits: the Gauss-Newton part, and the output
activation's own."""

from __future__ import annotations

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from .maps import as_map, transpose


def loss_curvature(net, fw, y, output) -> tuple[Derivative, Derivative | None]:
    """The curvature at the logits z (the input of the output activation ``output``, or the
    output itself without one), as maps from logits to logits: the Gauss-Newton part (a fused
    pair's closed form, softmax with cross-entropy ``diag(p) - p p^T``; else ``J^T H_C J``
    with J = da/dz, positive semi-definite for a convex loss) and the output activation's own
    curvature ``sum_i dC/da_i d2a_i/dz dz`` (None for a fused pair or without an activation),
    from the registry's second derivatives of the loss and the activation."""
    loss, out = net.loss_fn, fw.output
    rec = fw.records[-1]
    sym = rec.ctx.sym["in"] if output is not None else rec.ctx.sym["out"]
    of = f"dC/d{sym}"
    if output is not None and loss.fuses(output):
        return as_map(loss.fused_second(out, y, names={"z": sym}), of, sym), None
    H = as_map(loss.second_derivative(out, y), f"dC/d{rec.ctx.sym['out']}",
               rec.ctx.sym["out"])
    if output is None:
        return Derivative._make(H.terms, H.sizes, of, sym, H.dtype), None
    J = output.local(rec.ctx, "x")
    g = Derivative._wrap(np.array(loss.gradient(out, y)), (), out.shape, "C",
                         rec.ctx.sym["out"])
    prim = output.primitive
    second = prim.second_derivative(rec.ctx.x, names={prim.args[0]: sym,
                                                      "out": rec.ctx.sym["out"]})
    gn = chain(transpose(J), H, J)
    return (Derivative._make(gn.terms, gn.sizes, of, sym, gn.dtype),
            as_map(chain(g, second), of, sym))
