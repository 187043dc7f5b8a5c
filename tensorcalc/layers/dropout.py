"""Inverted dropout with a mask drawn once from a seed and the input's shape.

``y = x (.) m`` with ``m = keep / (1 - p)``: the Jacobian is diagonal, ``dy_i/dx_k = delta_ik
m_i``. The mask depends only on ``(p, seed, shape of x)``, so every backprop method, finite
differences included, sees the same mask, and a test can rebuild it.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.validate import as_float_array
from ..errors import TensorcalcError
from .base import Ctx, Layer, register_kind, wrap
from .primitive import Primitive, feature_labels, register, structured
from .words import Words


def dropout_mask(shape: tuple[int, ...], p: float, seed: int, dtype=np.float64) -> np.ndarray:
    """The inverted-dropout mask: entries ``0`` (dropped, probability ``p``) or ``1/(1-p)``."""
    keep = np.random.default_rng(seed).random(shape) >= p
    return (keep / (1.0 - p)).astype(dtype)


def _check(p, seed):
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
        raise TensorcalcError(f"dropout p must be in [0, 1): the probability of dropping an "
                              f"entry; got {p!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TensorcalcError(f"dropout seed must be a non-negative integer; got {seed!r}.")


def _value(x, p=0.5, seed=0):
    x = as_float_array(x, "x")
    _check(p, seed)
    return x * dropout_mask(x.shape, p, seed, x.dtype)


def mask_jacobian(mask: np.ndarray, sym) -> Derivative:
    labels = feature_labels(mask.ndim)
    return structured([(1.0, [(mask, labels, f"m({sym['x']})")], labels, labels)],
                      dict(zip(labels, mask.shape)), sym["out"], sym["x"])


def _d_x(sym, x, p=0.5, seed=0):
    x = as_float_array(x, "x")
    _check(p, seed)
    return mask_jacobian(dropout_mask(x.shape, p, seed, x.dtype), sym)


dropout = register(Primitive(
    "dropout", ("x",), "r", _value, {"x": _d_x}, {"x": "dr_i/dx_k = delta_ik m_i"},
    lambda rng, batch: (rng.normal(size=(batch, 5) if batch else 5),)))


@register_kind
class Dropout(Layer):
    """Inverted dropout: each entry is dropped with probability ``p`` (the drop probability,
    as in torch: code written with a keep probability q passes ``p = 1 - q``) and the rest
    scaled by ``1/(1-p)``; the mask is drawn once from ``seed`` and the input's shape (batch
    included), or given: ``mask=`` a 0/1 array of the input's shape or broadcastable to it (one
    mask shared by a batch), applied as ``mask / (1 - p)``.

    >>> import numpy as np, tensorcalc as tc
    >>> y = tc.Network.stack([tc.Dropout(0.5, seed=1)], input_shape=(6,))(np.ones(6))
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """

    kind = "dropout"
    grammar = "dropout P [seed]"
    symbol = "r"

    def __init__(self, p: float, seed: int = 0, mask=None) -> None:
        _check(p, seed)
        self.p, self.seed = float(p), int(seed)
        self.mask = None
        if mask is not None:
            m = as_float_array(mask, "mask")
            if not np.all((m == 0) | (m == 1)):
                raise TensorcalcError(f"a dropout mask holds 0 (dropped) and 1 (kept) only; got "
                                      f"values {np.unique(m)[:5].tolist()}.")
            self.mask = m
        self.formulas = dict(dropout.formulas)

    def forward(self, x, params):
        if self.mask is None:
            mask = dropout_mask(x.shape, self.p, self.seed, x.dtype)
        else:
            try:
                mask = np.broadcast_to(self.mask, x.shape) / (1.0 - self.p)
            except ValueError:
                raise TensorcalcError(f"the dropout mask of shape {self.mask.shape} does not fit "
                                      f"the input of shape {x.shape}.") from None
            mask = mask.astype(x.dtype)
        return x * mask, mask

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        return mask_jacobian(ctx.cache, {"x": ctx.sym["in"], "out": ctx.sym["out"]})

    def local_arrays(self, ctx: Ctx, wrt: str):
        return (ctx.cache,)

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        return g * ctx.cache, {}

    def input_text(self, expr: str, ctx: Ctx) -> str:
        return f"{wrap(expr)} (.) m({ctx.sym['in']})"

    @classmethod
    def example(cls):
        return cls(0.5, seed=3)

    @classmethod
    def from_words(cls, words):
        """``P [seed]``: the drop probability P and the mask's seed (0 when left out)."""
        w = Words(cls, words)
        p, seed = w.value("the drop probability P", float), w.optional(int, 0)
        w.done()
        return cls(p, seed)

    def spec(self) -> str:
        return f"dropout {self.p:g}" + ("" if self.seed == 0 else f" {self.seed}")

    def __repr__(self) -> str:
        mask = "" if self.mask is None else f", mask=<0/1 array {self.mask.shape}>"
        return (f"Dropout({self.p:g}" + ("" if self.seed == 0 else f", seed={self.seed}")
                + mask + ")")
