"""Which stacks second order covers, and the roles their layers play.

A layer is *bilinear* in its parameters and input (a dense layer, a convolution), an
*embedding* (linear in its table, first in the stack), *elementwise* (an activation: its own
curvature f''), or *linear* and parameter-free (flatten, pooling, dropout: no curvature of
their own; max pooling is linear wherever it is differentiable), or *generic* (batch, layer and
group norm, a residual block, a hidden softmax): no structured parts, its second-order terms
taken from its own forward and backward by complex-step differentiation, exact to rounding. The
last layer may be an output activation or softmax, whose curvature goes with the loss's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TensorcalcError
from ..layers import Activation, AvgPool, Conv, Dense, Dropout, Embedding, Flatten, MaxPool, Softmax

BILINEAR = (Dense, Conv)
LINEAR = (Flatten, MaxPool, AvgPool, Dropout)


@dataclass(frozen=True)
class Unit:
    """A layer with parameters: its position (0-based) and its parameter names by symbol."""

    index: int
    names: dict
    bilinear: bool


@dataclass(frozen=True)
class Template:
    units: tuple[Unit, ...]
    activations: tuple[int, ...]  # hidden elementwise activations (0-based positions)
    output: object  # the output Activation or Softmax, or None
    top: int  # the position of the logits' layer (before the output activation)
    generic: tuple[int, ...] = ()  # layers without structured parts (norms, residual blocks)


def role(layer, k: int, last: bool) -> str:
    if isinstance(layer, BILINEAR):
        return "bilinear"
    if isinstance(layer, Embedding) and k == 0:
        return "embedding"
    if isinstance(layer, Activation):
        return "elementwise"
    if isinstance(layer, LINEAR):
        return "linear"
    if isinstance(layer, Softmax) and last:
        return "output"
    return "generic"


def template(net) -> Template:
    """The roles of ``net``'s layers."""
    layers = list(net.layers)
    n = len(layers)
    roles = [role(layer, k, k == n - 1) for k, layer in enumerate(layers)]
    output = None
    if n > 1 and isinstance(layers[-1], (Activation, Softmax)):
        output, roles = layers[-1], roles[:-1]
    units = tuple(Unit(k, dict(net.nodes[k].names), r == "bilinear")
                  for k, r in enumerate(roles) if r in ("bilinear", "embedding"))
    acts = tuple(k for k, r in enumerate(roles) if r == "elementwise")
    generic = tuple(k for k, r in enumerate(roles) if r == "generic")
    return Template(units, acts, output, len(roles) - 1, generic)


def structured_only(net, tpl: Template) -> None:
    """Raise where a layer has no structured second-order parts (its Hessian still comes
    from exact Hessian-vector products)."""
    if tpl.generic:
        k = tpl.generic[0]
        raise TensorcalcError(
            f"layer {k + 1} ({type(net.layers[k]).__name__}) has no structured second-order "
            f"parts (they are stated for dense and convolution layers, activations, flatten, "
            f"pooling, dropout and an embedding); tc.hessian and tc.hvp still give its "
            f"Hessian exactly, from its own forward and backward differentiated by complex "
            f"step.")
