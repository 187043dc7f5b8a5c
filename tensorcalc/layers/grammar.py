"""The one-line grammar of a layer stack, as ``tensorcalc check --layers`` reads it.

A stack is a comma-separated list of layers; a layer is a kind and its options separated by
spaces; a residual block wraps a stack in parentheses:

    dense 16, relu, batchnorm, dense 10, softmax
    dense 8 in_out, residual(dense 8, layernorm, relu), dropout 0.2 3, dense 2 nobias
    conv 4 3, relu, maxpool 2, flatten, dense 10, softmax
    conv2d 8 3 stride 2 padding 1, relu, maxpool 3 stride 2, flatten, dense 10

Kinds: ``dense N [nobias] [in_out]``, an activation name (``relu``, ``tanh``, ...;
``leaky_relu [slope]``), ``softmax``, ``batchnorm [eps] [unbiased]``, ``layernorm [eps]``,
``dropout P [seed]``, ``residual(...)``, ``conv C K [stride S] [padding P] [dilation D]
[nobias]`` (C kernels of size K; ``s2``, ``p1``, ``d2`` for short; ``3x2`` gives one value per
axis; ``conv1d``/``conv2d`` fix 1 or 2 spatial axes, ``conv`` takes them from the input
shape), ``maxpool K [stride S]``, ``avgpool K [stride S]`` (stride defaults to K; no
padding), ``batchnorm2d [eps]``, ``groupnorm G [eps]``, ``embedding NUM DIM``, ``flatten``.
A word a layer does not take is an error that names the word and how the layer is written.
"""

from __future__ import annotations

from ..errors import TensorcalcError, UnknownNameError
from .activations import ACTIVATIONS, Activation
from .base import KINDS, NAMED, Layer


def _split(text: str) -> list[str]:
    """Split at the commas outside parentheses."""
    items, depth, start = [], 0, 0
    for k, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            raise TensorcalcError(f"unbalanced ')' in the layer spec {text!r}.")
        if c == "," and depth == 0:
            items.append(text[start:k])
            start = k + 1
    if depth:
        raise TensorcalcError(f"unbalanced '(' in the layer spec {text!r}.")
    return [item.strip() for item in items + [text[start:]]]


def parse_layers(text: str) -> list[Layer]:
    """The layers a one-line spec describes (see the module docstring).

    >>> from tensorcalc.layers.grammar import parse_layers
    >>> parse_layers("dense 16, relu, residual(dense 16, tanh), softmax")
    [Dense(16), 'relu', Residual([Dense(16), 'tanh']), 'softmax']
    """
    layers = []
    for item in _split(text):
        if not item:
            raise TensorcalcError(f"empty layer in the spec {text!r} (two commas in a row?).")
        if "(" in item:
            kind, _, inner = item.partition("(")
            kind = kind.strip()
            if not getattr(KINDS.get(kind), "takes_stack", False) or not inner.endswith(")"):
                raise TensorcalcError(f"only 'residual(...)' takes a parenthesised stack; got "
                                      f"{item!r}.")
            layers.append(KINDS[kind](parse_layers(inner[:-1])))
            continue
        kind, *words = item.split()
        if kind in ACTIVATIONS and words:  # leaky_relu 0.2
            kind, words = Activation.kind, [kind, *words]
        if kind in NAMED and not words:
            layers.append(NAMED[kind]())
        elif getattr(KINDS.get(kind), "takes_stack", False):
            raise TensorcalcError(f"{kind!r} wraps a stack in parentheses, e.g. '{kind}(dense "
                                  f"8, relu)'; got {item!r}.")
        elif kind in KINDS:
            try:
                layers.append(KINDS[kind].from_words(words))
            except ValueError as err:
                raise TensorcalcError(f"bad options in layer {item!r}: {err}") from None
        else:
            raise UnknownNameError(f"unknown layer {kind!r} in {item!r}; valid kinds are "
                                   f"{', '.join(sorted(set(KINDS) | set(NAMED)))}.")
    return layers
