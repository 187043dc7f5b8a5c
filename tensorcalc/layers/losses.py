"""Loss primitives, registered in the same registry: value and gradient of a scalar cost.

A single sample is a vector (n,); a batch is (N, n) and its loss is the mean over samples, so each
gradient carries a 1/N (``reduction="sum"`` adds the samples instead). ``scale`` multiplies the
loss (``scale=0.5`` is the 1/2 squared error). Targets are arrays of the prediction's shape, or,
for the classification losses, class indices (an int for one sample, shape (N,) for a batch).
Each loss also states its second derivative d2C/da da (see :mod:`.second`), with the same
scale and 1/N.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor
from ..core.validate import _trusted, as_float_array
from ..errors import InvalidInputError, ShapeMismatchError
from .primitive import Primitive, register
from .second import SECOND_FORMULAS, SECONDS, scalar_second
from .softmax import log_softmax_value, softmax_value
from .targets import one_hot


def prediction(a, name):
    a = as_float_array(a, name)
    if a.ndim not in (1, 2) or a.shape[-1] == 0 or a.shape[0] == 0:
        raise ShapeMismatchError(
            f"{name} must be a vector (n,) or a batch (N, n) with N, n >= 1; got shape {a.shape}."
        )
    return a


def factor(a, scale=1.0, reduction="mean") -> float:
    """``scale``, times 1/N for the mean over a batch of N."""
    return scale / a.shape[0] if a.ndim == 2 and reduction == "mean" else scale


def _scaled(text: str, scale: float, a, reduction: str) -> str:
    """The symbol of a gradient with the scale and the 1/N that are really applied."""
    text = text if scale == 1 else f"{scale:g} ({text})"
    return text + ("/N" if a.ndim == 2 and reduction == "mean" else "")


def _gradient(g, a, symbol, sym, arg):
    labels = "ni" if a.ndim == 2 else "i"
    return Derivative((Factor(g, labels, symbol),), "", labels, dict(zip(labels, a.shape)),
                      sym["out"], sym[arg])


#: Each loss's gradient ``grad(a, y)`` before the scale and the batch mean, by name.
GRADIENTS: dict = {}


def _loss(name, arg, value, grad, formula, example, grad_text) -> Primitive:
    """Register a loss from its per-sample-summed ``value(a, y)`` and ``grad(a, y)`` (before
    the scale and the batch mean); ``grad_text(symbol of a)`` names the gradient."""
    GRADIENTS[name] = grad

    def total(a, y, scale=1.0, reduction="mean"):
        a, y = checks[name](a, y)
        return np.asarray(value(a, y) * factor(a, scale, reduction), dtype=a.dtype)

    def derivative(sym, a, y, scale=1.0, reduction="mean"):
        a, y = checks[name](a, y)
        g = grad(a, y) * factor(a, scale, reduction)
        return _gradient(g.astype(a.dtype, copy=False), a,
                         _scaled(grad_text(sym[arg]), scale, a, reduction), sym, arg)

    def second(sym, a, y, scale=1.0, reduction="mean"):
        a, y = checks[name](a, y)
        return scalar_second(SECONDS[name], a, y, factor(a, scale, reduction), sym["out"],
                             sym[arg])

    return register(Primitive(name, (arg, "y"), "C", total, {arg: derivative}, {arg: formula},
                              example, {arg: second}, {arg: SECOND_FORMULAS[name]}))


# ---------------------------------------------------------------- target checks
def _se_args(a, y):
    a = prediction(a, "a")
    return a, one_hot(y, a, "y", allow_indices=False)


def _probabilities(p, y, loss, fix):
    p = prediction(p, "p")
    if _trusted.get():  # checked once already, at the public entry point
        return p, y
    if np.any(p < 0) or np.any(p > 1):
        raise InvalidInputError(
            f"{loss} takes probabilities in [0, 1]; p has values from {p.min():g} to "
            f"{p.max():g}. {fix}")
    return p, y


def _ce_args(p, y):
    p, y = _probabilities(p, y, "cross_entropy", "Apply softmax first, or use nll on the logits.")
    y = one_hot(y, p, "y")
    if not _trusted.get() and np.any((p == 0) & (y != 0)):
        raise InvalidInputError("cross_entropy is infinite: p is 0 where the target y is not.")
    return p, y


def _bce_args(p, y):
    p, y = _probabilities(p, y, "binary_cross_entropy", "Apply sigmoid first.")
    y = one_hot(y, p, "y", allow_indices=False)
    if _trusted.get():
        return p, y
    if np.any(y < 0) or np.any(y > 1):
        raise InvalidInputError(f"binary_cross_entropy targets must be in [0, 1]; got values "
                                f"from {y.min():g} to {y.max():g}.")
    if np.any(((p == 0) & (y != 0)) | ((p == 1) & (y != 1))):
        raise InvalidInputError("binary_cross_entropy is infinite: p is 0 or 1 where the "
                                "target is not.")
    return p, y


def _nll_args(z, y):
    z = prediction(z, "z")
    return z, one_hot(y, z, "y")


def hinge_targets(s, y):
    """Scores and targets for the hinge loss: one-hot rows for classes (indices or one-hot
    given), or signs in {-1, +1} shaped like ``s`` for a single output."""
    s = prediction(s, "s")
    if _trusted.get() and type(y) is np.ndarray and y.shape == s.shape:
        return s, y
    if s.shape[-1] > 1:
        t = one_hot(y, s, "y")
        if np.any((t != 0) & (t != 1)):
            raise InvalidInputError("hinge takes class indices or one-hot rows, not soft "
                                    "targets.")
        return s, t
    t = as_float_array(y, "y").astype(s.dtype, copy=False)
    samples = s.shape[0] if s.ndim == 2 else 1
    if t.size != samples:
        raise ShapeMismatchError(f"a single-output hinge loss takes one target in {{-1, +1}} "
                                 f"per sample; got y of shape {t.shape} for scores {s.shape}.")
    if np.any((t != 1) & (t != -1)):
        raise InvalidInputError(f"single-output hinge targets must be -1 or +1; got "
                                f"{np.unique(t).tolist()}.")
    return s, t.reshape(s.shape)


checks = {"squared_error": _se_args, "cross_entropy": _ce_args, "nll": _nll_args,
          "binary_cross_entropy": _bce_args, "hinge": hinge_targets}


# ---------------------------------------------------------------- the losses
def _example(kind):
    def draw(rng, batch):
        shape = (batch, 4) if batch else 4
        if kind == "se":
            return rng.normal(size=shape), rng.normal(size=shape)
        if kind == "ce":
            return softmax_value(rng.normal(size=shape)), softmax_value(rng.normal(size=shape))
        if kind == "bce":
            return 1 / (1 + np.exp(-rng.normal(size=shape))), rng.uniform(size=shape)
        z = rng.normal(size=shape)
        return z, rng.integers(0, 4, size=batch) if batch else int(rng.integers(0, 4))
    return draw


def hinge_margins(s, t):
    """Per-entry margins ``s_j - s_c + 1`` (0 at the target class), or ``1 - y s``."""
    if s.shape[-1] == 1:
        return 1.0 - t * s
    sc = np.sum(s * t, axis=-1, keepdims=True)
    return (s - sc + 1.0) * (1.0 - t)


def _hinge_grad(s, t):
    active = (hinge_margins(s, t) > 0).astype(s.dtype)  # subgradient 0 at the kink
    if s.shape[-1] == 1:
        return -t * active
    return active - t * active.sum(axis=-1, keepdims=True)


squared_error = _loss(
    "squared_error", "a", lambda a, y: np.sum((a - y) ** 2), lambda a, y: 2.0 * (a - y),
    "C = sum_i (a_i - y_i)^2; dC/da_i = 2 (a_i - y_i)", _example("se"),
    lambda a: f"2({a} - y)")
cross_entropy = _loss(
    "cross_entropy", "p", lambda p, y: -np.sum(y * np.log(np.where(y != 0, p, 1.0))),
    lambda p, y: -np.divide(y, p, out=np.zeros_like(p), where=y != 0),
    "C = -sum_i y_i log p_i; dC/dp_i = -y_i / p_i", _example("ce"), lambda p: f"-y/{p}")
nll = _loss(
    "nll", "z", lambda z, y: -np.sum(y * log_softmax_value(z)),
    lambda z, y: softmax_value(z) * y.sum(axis=-1, keepdims=True) - y,
    "C = logsumexp(z) - z_c; dC/dz_i = softmax(z)_i - 1_{i=c}", _example("nll"),
    lambda z: f"(softmax({z}) - y)")
binary_cross_entropy = _loss(
    "binary_cross_entropy", "p",
    lambda p, y: -np.sum(y * np.log(np.where(y != 0, p, 1.0))
                         + (1 - y) * np.log(np.where(y != 1, 1 - p, 1.0))),
    lambda p, y: (p - y) / (p * (1 - p)),
    "C = -sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)]; dC/dp_i = (p_i - y_i)/(p_i (1 - p_i))",
    _example("bce"), lambda p: f"({p} - y)/({p}(1 - {p}))")
hinge = _loss(
    "hinge", "s", lambda s, t: np.sum(np.maximum(hinge_margins(s, t), 0.0)), _hinge_grad,
    "C = sum_{j != c} max(0, s_j - s_c + 1); dC/ds_j = 1[m_j > 0] - 1_{j=c} sum_k 1[m_k > 0], "
    "with m_j = s_j - s_c + 1 and the subgradient 0 at m_j = 0 (one output: max(0, 1 - y s))",
    _example("hinge"), lambda s: f"hinge'({s})")

#: The losses, by name.
LOSSES: dict[str, Primitive] = {p.name: p for p in (squared_error, cross_entropy, nll,
                                                     binary_cross_entropy, hinge)}


def bce_from_logits(z, y) -> float:
    """The binary cross-entropy of ``sigmoid(z)`` summed over entries, computed stably:
    ``sum softplus(z) - y z``."""
    return float(np.sum(np.logaddexp(0.0, z) - y * z))
