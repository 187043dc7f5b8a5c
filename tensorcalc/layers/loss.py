"""A network's loss: a registered loss primitive with a scale and a reduction over the batch,
and the two classic fused shortcuts (softmax + cross-entropy, sigmoid + binary cross-entropy),
with their second derivatives."""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..core.derivative import Derivative
from ..errors import InvalidInputError, TensorcalcError, UnknownNameError
from .activations import Activation
from .base import Layer
from .losses import GRADIENTS, LOSSES, bce_from_logits, checks, factor, hinge_targets, prediction
from .primitive import Primitive, get
from .second import FUSED, FUSED_FORMULAS, scalar_second
from .softmax import Softmax, log_softmax_value
from .targets import one_hot

REDUCTIONS = ("mean", "sum")


def output_name(last: Layer | None) -> str:
    """The output activation a stack ends with: an activation's name, 'softmax', or
    'identity' when the last layer is not an activation."""
    if isinstance(last, Activation):
        return last.primitive.name
    return "softmax" if isinstance(last, Softmax) else "identity"


class Loss:
    """A loss by name, ``scale`` times it, averaged (``reduction="mean"``) or summed
    (``"sum"``) over the samples of a batch.

    >>> import numpy as np, tensorcalc as tc
    >>> half = tc.Loss("squared_error", scale=0.5)
    >>> float(half(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    2.5
    """

    def __init__(self, name: str | Primitive = "squared_error", scale: float = 1.0,
                 reduction: str = "mean") -> None:
        self.primitive = get(name, LOSSES, "loss")
        if not isinstance(scale, Real) or isinstance(scale, bool) or not np.isfinite(scale) \
                or scale <= 0:
            raise TensorcalcError(f"a loss scale must be a positive number; got {scale!r}.")
        if reduction not in REDUCTIONS:
            raise UnknownNameError(f"unknown reduction {reduction!r}; valid values are "
                                   f"{', '.join(map(repr, REDUCTIONS))}.")
        self.scale, self.reduction = float(scale), reduction

    @classmethod
    def of(cls, loss: Loss | str | Primitive) -> Loss:
        return loss if isinstance(loss, Loss) else cls(loss)

    @property
    def name(self) -> str:
        return self.primitive.name

    @property
    def args(self) -> tuple[str, ...]:
        return self.primitive.args

    def __call__(self, out, y) -> np.ndarray:
        return self.primitive(out, y, self.scale, self.reduction)

    def derivative(self, out, y, names=None):
        """dC/d(out) as a gradient :class:`~tensorcalc.Derivative`."""
        return self.primitive.derivative(out, y, self.scale, self.reduction, names=names)

    def second_derivative(self, out, y, names=None) -> Derivative:
        """d2C/d(out) d(out) as a :class:`~tensorcalc.Derivative`: ``out_shape ()``, ``in_shape
        out.shape + out.shape``, times ``scale`` and, for ``reduction="mean"`` over a batch of N,
        1/N. Samples do not interact, so a batch label is shared by both input copies (input
        labels ``njnj`` or ``njnk``). The formula is ``self.primitive.second_formula``.

        >>> import numpy as np, tensorcalc as tc
        >>> H = tc.Loss("squared_error", scale=0.5).second_derivative(np.zeros(2), np.ones(2))
        >>> H.dense().tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        >>> tc.Loss("nll").second_derivative(np.zeros((4, 3)), [0, 1, 2, 0]).shape
        (4, 3, 4, 3)
        """
        return self.primitive.second_derivative(out, y, self.scale, self.reduction, names=names)

    def fused_second(self, out, y, names=None) -> Derivative:
        """d2C/dz dz in the logits ``z`` of a fused pair, from the output ``out`` (as
        :meth:`fused_delta`): softmax + cross-entropy gives ``diag(p) - p p^T`` (two terms),
        sigmoid + binary cross-entropy ``diag(p (1 - p))``; times ``scale`` and the 1/N of a
        mean. ``names`` may rename ``"z"`` (the logits), ``"p"`` (the output) and ``"out"``
        (the cost).

        >>> import numpy as np, tensorcalc as tc
        >>> H = tc.Loss("cross_entropy").fused_second(np.array([0.5, 0.5]), 0)
        >>> H.dense().tolist()
        [[0.25, -0.25], [-0.25, 0.25]]
        >>> tc.Loss("binary_cross_entropy").fused_second(np.array([0.5]), [1.0]).dense().tolist()
        [[0.25]]
        """
        if self.name not in FUSED:
            raise TensorcalcError(f"loss {self.name!r} has no fused pair; fused_second applies "
                                  f"to {', '.join(map(repr, FUSED))} (after softmax or sigmoid).")
        out = prediction(out, "p")
        out, t = checks[self.name](out, y)
        sym = {"out": "C", "z": "z", "p": "p"} | dict(names or {})
        return scalar_second(FUSED[self.name], out, t, factor(out, self.scale, self.reduction),
                             sym["out"], sym["z"], sym["p"])

    @property
    def fused_second_formula(self) -> str:
        """The fused pair's second derivative in the logits, in words ("" without a pair)."""
        return FUSED_FORMULAS.get(self.name, "")

    def targets(self, out, y) -> np.ndarray:
        """``y`` checked against the network's output ``out`` and shaped like it (class
        indices become one-hot rows), so that later calls need not check it again."""
        if self.name == "hinge":
            return hinge_targets(out, y)[1]
        t = one_hot(y, out, "y", allow_indices=self.name in ("cross_entropy", "nll"))
        if self.name == "binary_cross_entropy" and (np.any(t < 0) or np.any(t > 1)):
            raise InvalidInputError(f"binary_cross_entropy targets must be in [0, 1]; got "
                                    f"values from {t.min():g} to {t.max():g}.")
        infinite = {"cross_entropy": lambda: np.any(out[t != 0] == 0),
                    "binary_cross_entropy": lambda: np.any(out[t != 0] == 0)
                    or np.any(out[t != 1] == 1)}.get(self.name)
        if infinite and infinite():
            raise InvalidInputError(f"{self.name} is infinite: the output is 0 or 1 where the "
                                    f"target is not.")
        return t

    def gradient(self, out, t) -> np.ndarray:
        """dC/d(out) as an array, for targets ``t`` from :meth:`targets`."""
        return GRADIENTS[self.name](out, t) * factor(out, self.scale, self.reduction)

    # ------------------------------------------------------------------ the network's view
    def check_pairing(self, last: Layer | None) -> None:
        out = output_name(last)
        if self.name == "nll" and out != "identity":
            raise TensorcalcError(
                f"loss 'nll' takes logits, so the output activation must be 'identity' (a linear "
                f"last layer), not {out!r}. For probabilities use loss='cross_entropy'.")
        if self.name == "cross_entropy" and out != "softmax":
            raise TensorcalcError(
                f"loss 'cross_entropy' (-sum y log p) takes a probability distribution over the "
                f"outputs, so the output activation must be 'softmax', not {out!r} (after a "
                f"sigmoid it would ignore every output but the target's). For logits use "
                f"loss='nll'.")
        if self.name == "binary_cross_entropy" and out != "sigmoid":
            raise TensorcalcError(
                f"loss 'binary_cross_entropy' takes probabilities from a sigmoid output, so the "
                f"output activation must be 'sigmoid', not {out!r}.")

    def fuses(self, last: Layer | None) -> bool:
        """True when the last layer and this loss have the classic joint shortcut."""
        out = output_name(last)
        return (self.name, out) in (("cross_entropy", "softmax"),
                                    ("binary_cross_entropy", "sigmoid"))

    def value(self, out, y, logits=None) -> float:
        """The loss of the output ``out``; from the ``logits`` (the last layer's input) where
        that is the stable form (softmax + cross-entropy, sigmoid + binary cross-entropy)."""
        if logits is None or self.name not in ("cross_entropy", "binary_cross_entropy"):
            return float(self(out, y))
        out, t = checks[self.name](out, y)
        k = factor(out, self.scale, self.reduction)
        if self.name == "cross_entropy":
            return float(-np.sum(t * log_softmax_value(logits)) * k)
        return bce_from_logits(logits, t) * k

    def fused_delta(self, out, y) -> np.ndarray:
        """dC/d(logits) of a fused pair: ``(p - y)`` times the scale (and 1/N)."""
        out = prediction(out, "p")
        _, t = checks[self.name](out, y)
        k = factor(out, self.scale, self.reduction)
        if self.name == "cross_entropy":
            return (out * t.sum(axis=-1, keepdims=True) - t) * k
        return (out - t) * k

    def fused_text(self, p: str, batched: bool) -> str:
        mean = "/N" if batched and self.reduction == "mean" else ""
        scale = "" if self.scale == 1 else f"{self.scale:g} "
        return f"{scale}({p} - y){mean}" if scale or mean else f"{p} - y"

    def spec(self) -> str:
        return self.name

    def __repr__(self) -> str:
        if self.scale == 1 and self.reduction == "mean":
            return repr(self.name)
        extra = ("" if self.scale == 1 else f", scale={self.scale:g}") + (
            "" if self.reduction == "mean" else f", reduction={self.reduction!r}")
        return f"Loss({self.name!r}{extra})"
