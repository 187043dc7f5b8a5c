"""The own curvature of layers that are not elementwise, as structured maps on their input.

A hidden softmax's is ``sum_i g_i d2p_i/dz dz`` with ``g = dC/dp``, from the registry's second
derivative of softmax; a norm's (layer norm, batch norm, batch norm over channels) is
``sum_i (g (.) gamma)_i d2xhat_i/dx dx``, five terms of the input's size
(:mod:`tensorcalc.layers.norm_second`), and its ``gamma`` meets the input in
``d(dC/dgamma)/dx = g (.) dxhat/dx``. In a Hessian block each map sits between the
Jacobians of the layer's input, ``J_p^T M J_q``, as an activation's diagonal does.
"""

from __future__ import annotations

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from ..layers import Softmax, norm_second
from .maps import as_map


def _norm_symbols(rec) -> dict:
    sym = rec.ctx.sym
    return {"x": sym["in"], "out": sym["out"], "gamma": sym["gamma"], "beta": sym["beta"]}


def curvature_map(rec, g: np.ndarray) -> Derivative:
    """The layer's own curvature at ``rec``, a map from its input to itself: for a softmax
    ``sum_i g_i d2p_i/dz dz``, for a norm ``sum_i (g gamma)_i d2xhat_i/dx dx``."""
    layer, ctx = rec.node.layer, rec.ctx
    if isinstance(layer, Softmax):
        prim, sym = layer.primitive, ctx.sym
        second = prim.second_derivative(ctx.x, names={prim.args[0]: sym["in"],
                                                      "out": sym["out"]})
        G = Derivative._wrap(np.array(g), (), g.shape, "C", sym["out"])
        return as_map(chain(G, second), f"dC/d{sym['in']}", sym["in"])
    return norm_second.norm_curvature(layer, ctx, g, _norm_symbols(rec))


def gamma_input(rec, g: np.ndarray) -> Derivative:
    """``d(dC/dgamma)/dx`` of a norm ``rec`` at fixed ``g = dC/dy``."""
    return norm_second.gamma_input(rec.node.layer, rec.ctx, g, _norm_symbols(rec))
