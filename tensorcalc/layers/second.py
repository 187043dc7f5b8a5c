"""Second derivatives of the losses, and of the two fused pairs in their logits, as structured
:class:`Derivative` objects.

A loss ``C(a)`` of a vector ``a`` (n,) has the second derivative ``d2C/da_j da_k`` with
``out_shape ()`` and ``in_shape (n, n)``: a diagonal term has input labels ``jj``, a rank-one
term ``jk``. For a batch (N, n) the samples do not interact, so the batch label is shared by
both input copies (``njnj``, ``njnk``) and the (N, n, N, n) tensor is never stored. The loss's
``scale`` and the 1/N of a mean reduction are the terms' coefficient.

Each entry states its terms once, as ``(coef, [(array, labels, symbol), ...], in_labels)`` in
the letters ``j`` (first copy) and ``k`` (second copy), before the scale and the mean.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from .primitive import feature_labels, structured
from .softmax import softmax_value


def _ratio(num, den, where):
    """``num / den`` where ``where`` holds, 0 elsewhere (a zero target cancels an infinity)."""
    return np.divide(num, den, out=np.zeros(np.broadcast_shapes(num.shape, den.shape),
                                            dtype=den.dtype), where=where)


def _squared_error(a, y, s, j, k):
    return [(2.0, [], j + j)]


def _cross_entropy(p, y, s, j, k):
    return [(1.0, [(_ratio(y, p * p, y != 0), j, f"y/{s}^2")], j + j)]


def softmax_pair(p, mass, s, j, k):
    """``mass (diag(p) - p p^T)``, the softmax Hessian of logsumexp times the target mass
    (1 for probability targets): a diagonal term and a rank-one term."""
    q = p * mass
    return [(1.0, [(q, j, s)], j + j), (-1.0, [(q, j, s), (p, k, s)], j + k)]


def _nll(z, y, s, j, k):
    return softmax_pair(softmax_value(z), y.sum(axis=-1, keepdims=True), f"softmax({s})", j, k)


def _binary_cross_entropy(p, y, s, j, k):
    d = _ratio(y, p * p, y != 0) + _ratio(1 - y, (1 - p) ** 2, y != 1)
    return [(1.0, [(d, j, f"y/{s}^2 + (1-y)/(1-{s})^2")], j + j)]


def _hinge(s_, t, s, j, k):
    return [(0.0, [], j + j)]


def _sigmoid_pair(p, y, s, j, k):
    return [(1.0, [(p * (1 - p), j, f"{s}(1-{s})")], j + j)]


#: Each loss's second derivative in its argument, by name: ``terms(a, y, symbol, j, k)``.
SECONDS = {"squared_error": _squared_error, "cross_entropy": _cross_entropy, "nll": _nll,
           "binary_cross_entropy": _binary_cross_entropy, "hinge": _hinge}

#: The fused pairs in the logits z, by loss name, from the output ``p`` (softmax or sigmoid).
FUSED = {"cross_entropy": lambda p, y, s, j, k: softmax_pair(
             p, y.sum(axis=-1, keepdims=True), s, j, k),
         "binary_cross_entropy": _sigmoid_pair}

#: One line of mathematics per loss's second derivative (before the scale and the mean).
SECOND_FORMULAS = {
    "squared_error": "d2C/da_j da_k = 2 delta_jk",
    "cross_entropy": "d2C/dp_j dp_k = delta_jk y_j / p_j^2",
    "nll": "d2C/dz_j dz_k = m (p_j delta_jk - p_j p_k), p = softmax(z), m = sum_i y_i (1 "
           "for class indices)",
    "binary_cross_entropy": "d2C/dp_j dp_k = delta_jk (y_j / p_j^2 + (1 - y_j) / (1 - p_j)^2)",
    "hinge": "d2C/ds_j ds_k = 0 (piecewise linear; 0 at the kinks too)",
}

#: The fused pairs' second derivatives in the logits z (before the scale and the mean).
FUSED_FORMULAS = {
    "cross_entropy": "softmax + cross_entropy: d2C/dz_j dz_k = p_j delta_jk - p_j p_k",
    "binary_cross_entropy": "sigmoid + binary_cross_entropy: "
                            "d2C/dz_j dz_k = delta_jk p_j (1 - p_j)",
}


def scalar_second(terms_of, a, y, coef: float, of: str, wrt: str,
                  symbol: str | None = None) -> Derivative:
    """The second derivative of a scalar cost from an entry of :data:`SECONDS` or
    :data:`FUSED` at checked ``a`` and ``y``, each term times ``coef`` (scale, 1/N); factors
    are shown with ``symbol`` for ``a`` (``wrt`` unless given)."""
    j = feature_labels(a.ndim, "jk")
    k = j[:-1] + "k"
    terms = [(c * coef, factors, "", inp)
             for c, factors, inp in terms_of(a, y, symbol or wrt, j, k)]
    used = {c for _, factors, _, inp in terms for c in inp + "".join(f[1] for f in factors)}
    sizes = {c: n for c, n in zip(j, a.shape)} | {"k": a.shape[-1]}
    return structured(terms, {c: n for c, n in sizes.items() if c in used}, of, wrt, a.dtype)
