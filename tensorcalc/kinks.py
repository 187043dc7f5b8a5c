"""Kinks: where a ReLU-like input, a max-pooling tie or a hinge margin lies so close to its
kink that central differences straddle it. There the numeric method measures a mix of two
one-sided slopes while the exact methods use the stated convention (``relu'(0) = 0``, the
first maximum, the subgradient 0)."""

from __future__ import annotations

import numpy as np

from .layers import Activation
from .layers.losses import hinge_margins, hinge_targets
from .layers.pool import MaxPool, _taps_last, pool_windows


def _records(records):
    for r in records:
        yield r
        yield from _records(r.inner)


def max_gap(rec, layer) -> float:
    """The smallest gap between the largest and second-largest entry of a pooling window."""
    dims = len(rec.node.in_shape) - 1
    kernel, stride = layer._geometry(dims)
    flat = _taps_last(pool_windows(rec.ctx.x, kernel, stride), dims)
    if flat.shape[-1] < 2:
        return np.inf
    top = np.sort(flat, axis=-1)[..., -2:]
    return float(np.min(top[..., 1] - top[..., 0]))


def kinks(fw, loss: str, y, margin: float) -> list[str]:
    """What lies within ``margin`` of a kink in this forward pass, one phrase each."""
    found = []
    for r in _records(fw.records):
        layer = r.node.layer
        if isinstance(layer, Activation) and layer.primitive.name in ("relu", "leaky_relu"):
            if r.ctx.x.size and np.min(np.abs(r.ctx.x)) <= margin:
                name = layer.primitive.short
                found.append(f"{name}'(0) = {layer.primitive.prime(np.zeros(1))[0]:g} by "
                             f"convention ({r.node.where} has an input within {margin:g} of 0)")
        if isinstance(layer, MaxPool) and max_gap(r, layer) <= margin:
            found.append(f"a max-pooling tie goes to the first maximum ({r.node.where})")
    if loss == "hinge":
        s, t = hinge_targets(fw.output, y)
        m = hinge_margins(s, t)
        if np.any(np.abs(m[(t == 0) | (s.shape[-1] == 1)]) <= margin):
            found.append("the hinge subgradient is 0 at a margin of 0")
    return found


def near_kink(fw, loss: str, y, margin: float) -> bool:
    """True when something lies within ``margin`` of a kink (see :func:`kinks`)."""
    return bool(kinks(fw, loss, y, margin))
