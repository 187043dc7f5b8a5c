"""Second-order entries of the norms: each norm's own curvature and its gamma-by-input term.

Normalising over M values with the variance divided by V (V = M, or M - 1 for the
Bessel-corrected batch norm), ``dxhat/dx = A / sigma`` with ``A = delta - 1/M - xhat xhat/V``
over the values sharing a mean, and ``dsigma/dx_b = xhat_b / V``. Differentiating once more and
contracting with ``u = dC/dy (.) gamma`` gives the norm's own curvature

    sum_a u_a d2xhat_a/dx_b dx_e = -(1/(V sigma^2)) (xhat_b w_e + w_b xhat_e + c delta_be
                                                     - c/M - c xhat_b xhat_e / V),

with ``c = u . xhat`` and ``w = u A`` over each group: five terms of the input's size, a map from
the layer's input to itself. The gamma-by-input term is ``d(dC/dgamma)/dx``: for layer norm
(gamma along the normalised axis) ``g_i A_ik / sigma``, three terms; for batch norm and batch
norm over channels (gamma along the shared axis) ``(g A) / sigma``, one array and a delta.
Group norm's groups are the channels of a sample that share a group: its terms carry the
channel-group indicator ``[g(c) = g(d)]`` of its Jacobian, and per-group values repeated per
channel.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from .primitive import structured

PRIMES = {"n": "m", "i": "k", "h": "u", "w": "v"}


def _layout(layer, x: np.ndarray, batched: bool):
    """(labels of x, the labels normalised over, the variance divisor's shortfall)."""
    kind = type(layer).__name__
    if kind == "LayerNorm":
        return ("ni" if batched else "i"), "i", 0
    if kind == "BatchNorm":
        return "ni", "n", int(layer.unbiased)
    lab = "nc" + "hw"[:x.ndim - 2]  # BatchNorm2d: over the batch and the positions
    return lab, "n" + lab[2:], 0


def norm_curvature(layer, ctx, g: np.ndarray, sym: dict) -> Derivative:
    """The own curvature of a layer norm, batch norm, batch norm over channels or group norm
    at ``ctx`` with upstream gradient ``g`` (module docstring)."""
    if type(layer).__name__ == "GroupNorm":
        return _group_curvature(layer, ctx, g, sym)
    xhat = ctx.cache[0]
    lab, normed, short = _layout(layer, xhat, ctx.batched)
    axes = tuple(lab.index(c) for c in normed)
    shared = "".join(c for c in lab if c not in normed)
    M = int(np.prod([xhat.shape[a] for a in axes]))
    V = M - short
    u = g * _gamma(layer, ctx, lab)
    sigma2 = 1.0 / _inv_sigma(layer, ctx, lab) ** 2
    c = np.sum(u * xhat, axis=axes, keepdims=True)
    w = u - u.mean(axis=axes, keepdims=True) - xhat * c / V
    shared_shape = [xhat.shape[lab.index(k)] for k in shared]

    def keep(a: np.ndarray) -> np.ndarray:  # a per-group value on the shared axes alone
        return np.asarray(a.reshape(shared_shape))

    other = "".join(PRIMES[k] if k in normed else k for k in lab)
    x = sym["x"]
    s = (keep(1.0 / (V * sigma2)), shared, f"1/(V sigma({x})^2)")
    sizes = dict(zip(lab, xhat.shape)) | {PRIMES[k]: xhat.shape[lab.index(k)] for k in normed}
    return _five_terms(xhat, w, s, (keep(c), shared, f"c({x})"), (M, V), (lab, other), sizes, x)


def _five_terms(xhat, w, s, cf, counts, labels, sizes, x: str, group=()) -> Derivative:
    """``-s (xhat_a w_b + w_a xhat_b + c delta_ab - c/M - c xhat_a xhat_b / V)`` on the
    input labels ``labels = (a, b)``, ``counts = (M, V)``; ``group`` is a factor that every
    term off the diagonal carries (group norm's channel-group indicator)."""
    (lab, other), (M, V), group = labels, counts, list(group)
    inv_m = (np.asarray(1.0 / M, dtype=xhat.dtype), "", "1/M")
    inv_v = (np.asarray(1.0 / V, dtype=xhat.dtype), "", "1/V")
    xh = f"xhat({x})"
    xa, xb = (xhat, lab, xh), (xhat, other, xh)
    wa, wb = (w, lab, f"w({x})"), (w, other, f"w({x})")
    terms = [(-1.0, [s, xa, wb] + group, lab, other), (-1.0, [s, wa, xb] + group, lab, other),
             (-1.0, [s, cf], lab, lab), (1.0, [s, cf, inv_m] + group, lab, other),
             (1.0, [s, cf, inv_v, xa, xb] + group, lab, other)]
    return structured(terms, sizes, f"dC/d{x}", x)


def gamma_input(layer, ctx, g: np.ndarray, sym: dict) -> Derivative:
    """``d(dC/dgamma)/dx`` at fixed ``g = dC/dy`` (module docstring)."""
    if type(layer).__name__ == "GroupNorm":
        return _group_gamma_input(layer, ctx, g, sym)
    xhat = ctx.cache[0]
    lab, normed, short = _layout(layer, xhat, ctx.batched)
    axes = tuple(lab.index(c) for c in normed)
    M = int(np.prod([xhat.shape[a] for a in axes]))
    V = M - short
    r = _inv_sigma(layer, ctx, lab)
    sizes = dict(zip(lab, xhat.shape))
    if type(layer).__name__ == "LayerNorm":  # gamma_i along the normalised axis
        n = lab[:-1]
        s = (np.asarray(r[..., 0]), n, f"1/sigma({sym['x']})")
        gf = (g, lab, f"dC/d{sym['out']}")
        inv_m, inv_v = (np.asarray(1.0 / M), "", "1/D"), (np.asarray(1.0 / V), "", "1/D")
        k = n + "k"
        terms = [(1.0, [gf, s], "i", lab), (-1.0, [gf, s, inv_m], "i", k),
                 (-1.0, [gf, s, inv_v, (xhat, lab, f"xhat({sym['x']})"),
                         (xhat, k, f"xhat({sym['x']})")], "i", k)]
        return structured(terms, sizes | {"k": xhat.shape[-1]}, f"dC/d{sym['gamma']}",
                          sym["x"])
    gx = np.sum(g * xhat, axis=axes, keepdims=True)
    value = r * (g - g.mean(axis=axes, keepdims=True) - xhat * gx / V)
    shared = "".join(c for c in lab if c not in normed)
    return structured([(1.0, [(value, lab, f"dxhat/dx^T dC/d{sym['out']}")], shared, lab)],
                      sizes, f"dC/d{sym['gamma']}", sym["x"])


def _gamma(layer, ctx, lab: str) -> np.ndarray:
    """gamma shaped to broadcast against the input."""
    gamma = ctx.p["gamma"]
    if type(layer).__name__ == "BatchNorm2d":
        return gamma.reshape((1, -1) + (1,) * (len(lab) - 2))
    return gamma


def _inv_sigma(layer, ctx, lab: str) -> np.ndarray:
    """1/sigma of each group, shaped to broadcast against the input."""
    rs = ctx.cache[1]
    if type(layer).__name__ == "BatchNorm2d":
        return rs.reshape((1, -1) + (1,) * (len(lab) - 2))
    return rs


def _group_layout(layer, ctx):
    """Labels, sizes, values per group, channels per group and the group indicator."""
    xhat, b = ctx.cache[0], ctx.batched
    n, sp, pr = layer._labels(ctx.x, b)
    lab, other = n + "c" + sp, n + "d" + pr
    C = xhat.shape[int(b)]
    k = C // layer.groups
    M = (xhat[0].size if b else xhat.size) // layer.groups
    group = np.arange(C) // k
    same = (group[:, None] == group[None, :]).astype(xhat.dtype)
    sizes = dict(zip(lab, xhat.shape)) | {"d": C} | dict(zip(pr, xhat.shape[1 + int(b):]))
    return lab, other, sizes, M, k, (same, "cd", "[g(c) = g(d)]")


def _per_channel(values: np.ndarray, k: int, batched: bool) -> np.ndarray:
    """Per-(sample, group) values repeated for each channel of the group."""
    return np.repeat(values.reshape(values.shape[:1 + int(batched)]), k, axis=-1)


def _group_curvature(layer, ctx, g: np.ndarray, sym: dict) -> Derivative:
    xhat, rs = ctx.cache
    b = ctx.batched
    lab, other, sizes, M, k, E = _group_layout(layer, ctx)
    u = g * layer._channel(ctx.p["gamma"], g, b)
    ug, xg = layer._grouped(u, b), layer._grouped(xhat, b)
    axes = tuple(range(1 + b, ug.ndim))
    c = np.sum(ug * xg, axis=axes, keepdims=True)
    w = (ug - ug.mean(axis=axes, keepdims=True) - xg * c / M).reshape(xhat.shape)
    nc, x = lab[:1 + b], sym["x"]
    s = (_per_channel(rs ** 2 / M, k, b), nc, f"1/(V sigma({x})^2)")
    cf = (_per_channel(c, k, b), nc, f"c({x})")
    return _five_terms(xhat, w, s, cf, (M, M), (lab, other), sizes, x, group=[E])


def _group_gamma_input(layer, ctx, g: np.ndarray, sym: dict) -> Derivative:
    xhat, rs = ctx.cache
    lab, other, sizes, M, k, E = _group_layout(layer, ctx)
    r = (_per_channel(rs, k, ctx.batched), lab[:1 + ctx.batched], f"1/sigma({sym['x']})")
    gf = (g, lab, f"dC/d{sym['out']}")
    inv = (np.asarray(1.0 / M, dtype=xhat.dtype), "", "1/M")
    xh = f"xhat({sym['x']})"
    terms = [(1.0, [gf, r], "c", lab), (-1.0, [gf, r, inv, E], "c", other),
             (-1.0, [gf, r, inv, (xhat, lab, xh), (xhat, other, xh), E], "c", other)]
    return structured(terms, sizes, f"dC/d{sym['gamma']}", sym["x"])
