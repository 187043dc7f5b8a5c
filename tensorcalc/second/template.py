"""Which stacks second order covers, and the roles their layers play.

A layer is *bilinear* in its parameters and input (a dense layer, a convolution), an
*embedding* (linear in its table, with no parameters before it), *elementwise* (an
activation: its own curvature f''), *curved* (a hidden softmax: its own curvature a full map
per sample, from the registry's second derivative), a *norm* (layer, batch, channel batch and
group norm: its own curvature a map of five terms, and gamma bilinear with the input), or
*linear* and parameter-free (flatten, pooling, dropout: no curvature of their own; max pooling
is linear wherever it is differentiable), or *generic* (a layer kind without second-order
entries, such as one a user defines): no structured parts, its second-order terms taken from
its own forward and backward by complex-step differentiation, exact to rounding. Residual
blocks are walked into: their inner layers take these roles at their own positions (``(k,
j)``, the j-th layer of the block at k), the skip path adding nothing of second order. The
last layer may be an output activation or softmax, whose curvature goes with the loss's.
Hessian-vector products apply the curved and norm layers' maps to the tangents.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TensorcalcError
from ..layers import (
    Activation,
    AvgPool,
    BatchNorm,
    BatchNorm2d,
    Conv,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GroupNorm,
    LayerNorm,
    MaxPool,
    Softmax,
)

BILINEAR = (Dense, Conv)
LINEAR = (Flatten, MaxPool, AvgPool, Dropout)


@dataclass(frozen=True)
class Unit:
    """A layer with parameters: its position (0-based, ``(2, 1)`` for the second layer inside
    the block at 2), its parameter names by symbol, its role ("bilinear", "embedding" or
    "norm") and the layer."""

    pos: tuple[int, ...]
    names: dict
    kind: str
    layer: object

    @property
    def bilinear(self) -> bool:
        return self.kind == "bilinear"


@dataclass(frozen=True)
class Template:
    units: tuple[Unit, ...]
    activations: tuple[tuple[int, ...], ...]  # positions of hidden elementwise activations
    output: object  # the output Activation or Softmax, or None
    top: int  # the position of the logits' layer (before the output activation)
    generic: tuple[tuple[int, ...], ...] = ()  # layers without structured parts
    curved: tuple[tuple[int, ...], ...] = ()  # hidden softmax and the norms: a full map each


def role(layer, k: int, last: bool, leading: bool = False) -> str:
    """A layer's role; ``leading``: no layer with parameters runs before it (an embedding
    there reads the data itself: ``k == 0`` says the same for the first layer)."""
    if isinstance(layer, BILINEAR):
        return "bilinear"
    if isinstance(layer, Embedding) and (k == 0 or leading):
        return "embedding"
    if isinstance(layer, Activation):
        return "elementwise"
    if isinstance(layer, LINEAR):
        return "linear"
    if isinstance(layer, Softmax):
        return "output" if last else "curved"
    if type(layer) in (LayerNorm, BatchNorm, BatchNorm2d, GroupNorm):
        return "norm"
    return "generic"


def _walk(nodes, prefix: tuple[int, ...], last: int, seen: list):
    """(position, node, role) of every layer that is not a block, inside blocks too, in the
    order they run; ``last`` is the top-level index of the output layer, ``seen`` whether a
    layer with parameters ran already."""
    for k, node in enumerate(nodes):
        pos = prefix + (k,)
        if node.children:
            yield from _walk(node.children, pos, -1, seen)
        else:
            yield pos, node, role(node.layer, -1, k == last, not seen and not prefix)
            seen += [True] if node.layer.params else []


def template(net) -> Template:
    """The roles of ``net``'s layers, residual blocks walked into."""
    layers = list(net.layers)
    n = len(layers)
    output = None
    if n > 1 and isinstance(layers[-1], (Activation, Softmax)):
        output = layers[-1]
    walked = [(pos, node, r) for pos, node, r in _walk(net.nodes, (), n - 1, [])
              if not (output is not None and pos == (n - 1,))]
    units = tuple(Unit(pos, dict(node.names), r, node.layer) for pos, node, r in walked
                  if r in ("bilinear", "embedding", "norm"))
    acts = tuple(pos for pos, _, r in walked if r == "elementwise")
    generic = tuple(pos for pos, _, r in walked if r == "generic")
    curved = tuple(pos for pos, _, r in walked if r in ("curved", "norm"))
    return Template(units, acts, output, n - 1 - (output is not None), generic, curved)


def where(net, pos: tuple[int, ...]) -> str:
    """``layer 3.2`` for a position (1-based, as the network numbers its layers)."""
    return "layer " + ".".join(str(k + 1) for k in pos)


def structured_only(net, tpl: Template) -> None:
    """Raise where a layer has no structured second-order parts (its Hessian still comes
    from exact Hessian-vector products)."""
    if tpl.generic:
        pos = tpl.generic[0]
        node = net.nodes[pos[0]]
        for k in pos[1:]:
            node = node.children[k]
        raise TensorcalcError(
            f"{where(net, pos)} ({type(node.layer).__name__}) has no structured second-order "
            f"parts (they are stated for dense and convolution layers, activations, a hidden "
            f"softmax, the norms, flatten, pooling, dropout, an embedding as the first layer "
            f"and residual blocks of these); tc.hessian and tc.hvp still give its Hessian "
            f"exactly, from its own forward and backward differentiated by complex step.")
