"""The dense template of the references as a stack: ``Dense, activation`` per layer.

``Network.random(sizes, hidden=..., output=...)`` and ``Network.from_params(...)`` build
``[Dense(n_1), hidden, ..., Dense(n_L), output]``; a stack of that shape prints as the
template it is.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.validate import as_float_array
from ..errors import ShapeMismatchError, TensorcalcError
from ..layers import ACTIVATIONS, Activation, Dense, Softmax, get, softmax

#: Names accepted for the output activation: every elementwise activation, plus softmax.
OUTPUTS = {**ACTIVATIONS, "softmax": softmax}


def _activations(hidden, output, n_hidden: int) -> list:
    if isinstance(hidden, (list, tuple)):
        if len(hidden) != n_hidden:
            raise ShapeMismatchError(
                f"hidden lists one activation per hidden layer: {n_hidden} here, got "
                f"{len(hidden)} ({list(hidden)}).")
        names = list(hidden)
    else:
        names = [get(hidden, ACTIVATIONS, "hidden activation")] * n_hidden
    acts = [Activation(get(h, ACTIVATIONS, "hidden activation")) for h in names]
    out = get("identity" if output in (None, "none") else output, OUTPUTS, "output activation")
    return acts + [Softmax() if out is softmax else Activation(out)]


def dense_stack(sizes, hidden, output, bias) -> tuple[list, tuple[int]]:
    """The layers of the template for widths ``sizes``, and the input shape."""
    try:
        widths = list(sizes)
    except TypeError:
        widths = None
    if (widths is None or len(widths) < 2
            or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in widths)):
        raise ShapeMismatchError(f"sizes must list at least two whole-number widths, each "
                                 f">= 1 (input width first), e.g. [3, 4, 2]; got {sizes!r}.")
    acts = _activations(hidden, output, len(widths) - 2)
    layers = []
    for n, act in zip(widths[1:], acts):
        layers += [Dense(int(n), bias=bias), act]
    return layers, (int(widths[0]),)


def stack_of_params(params: Mapping[str, object], hidden, output) -> tuple[list, tuple[int]]:
    """The template layers that weights ``W1, b1, ..., WL, bL`` describe."""
    names = set(params)
    depth = 0
    while f"W{depth + 1}" in names:
        depth += 1
    unknown = names - {f"W{l}" for l in range(1, depth + 1)} - {
        f"b{l}" for l in range(1, depth + 1)}
    if depth == 0 or unknown:
        raise TensorcalcError(
            f"parameters must be named W1, b1, ..., WL, bL (1-based, biases optional); got "
            f"{sorted(names)}" + (f", unexpected {sorted(unknown)}." if unknown else "."))
    shapes = {}
    for l in range(1, depth + 1):
        W = as_float_array(params[f"W{l}"], f"W{l}")
        if W.ndim != 2 or 0 in W.shape:
            raise ShapeMismatchError(f"W{l} must be a non-empty matrix (n_{l}, n_{l - 1}); "
                                     f"got shape {W.shape}.")
        if l > 1 and W.shape[1] != shapes[l - 1][0]:
            raise ShapeMismatchError(
                f"W{l} has shape {W.shape}, so it takes {W.shape[1]} inputs, but W{l - 1} has "
                f"shape {shapes[l - 1]} and gives {shapes[l - 1][0]}; W{l} must have shape "
                f"({W.shape[0]}, {shapes[l - 1][0]}).")
        shapes[l] = W.shape
    acts = _activations(hidden, output, depth - 1)
    layers = []
    for l, act in zip(range(1, depth + 1), acts):
        layers += [Dense(shapes[l][0], bias=f"b{l}" in params), act]
    return layers, (shapes[1][1],)


def describe_template(net) -> str | None:
    """``Network(sizes=[3, 4, 2], hidden='sigmoid', ...)`` when ``net`` is the dense
    template with the plain loss, else None."""
    layers = net.layers
    dense, acts = layers[0::2], layers[1::2]
    if (len(layers) % 2 or net.weight_decay or repr(net.loss_fn)[0] != "'"
            or not all(isinstance(d, Dense) and d.weights == "out_in" for d in dense)
            or not all(isinstance(a, Activation) for a in acts[:-1])
            or not isinstance(acts[-1], (Activation, Softmax))):
        return None
    hidden_names = [a.primitive.name for a in acts[:-1]]
    hidden = hidden_names[0] if len(set(hidden_names)) == 1 else (hidden_names or "sigmoid")
    biased = [l for l, d in enumerate(dense, 1) if d.bias]
    bias = True if len(biased) == len(dense) else (f"layers {biased}" if biased else False)
    return (f"Network(sizes={net.sizes}, hidden={hidden!r}, output={net.output.name!r}, "
            f"loss={net.loss_fn.name!r}, bias={bias}, dtype={net.dtype})")
