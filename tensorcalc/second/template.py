"""Which stacks second order covers, and the roles their layers play.

A layer is *bilinear* in its parameters and input (a dense layer, a convolution), an
*embedding* (linear in its table, first in the stack), *elementwise* (an activation: its own
curvature f''), *curved* (a hidden softmax: its own curvature a full map per sample, from the
registry's second derivative), a *norm* (layer, batch, channel batch and group norm: its own
curvature a map of five terms, and gamma bilinear with the input), or *linear* and
parameter-free (flatten, pooling, dropout: no curvature of their own; max pooling is linear
wherever it is differentiable), or *generic* (a residual block): no structured
parts, its second-order terms taken from its own forward and backward by complex-step
differentiation, exact to rounding. The last layer may be an output activation or softmax,
whose curvature goes with the loss's. Hessian-vector products take the curved and norm layers
by complex step too.
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
    """A layer with parameters: its position (0-based), its parameter names by symbol and its
    role ("bilinear", "embedding" or "norm")."""

    index: int
    names: dict
    kind: str

    @property
    def bilinear(self) -> bool:
        return self.kind == "bilinear"


@dataclass(frozen=True)
class Template:
    units: tuple[Unit, ...]
    activations: tuple[int, ...]  # hidden elementwise activations (0-based positions)
    output: object  # the output Activation or Softmax, or None
    top: int  # the position of the logits' layer (before the output activation)
    generic: tuple[int, ...] = ()  # layers without structured parts (residual blocks)
    curved: tuple[int, ...] = ()  # hidden softmax and layer norm: a full curvature map each


def role(layer, k: int, last: bool) -> str:
    if isinstance(layer, BILINEAR):
        return "bilinear"
    if isinstance(layer, Embedding) and k == 0:
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


def template(net) -> Template:
    """The roles of ``net``'s layers."""
    layers = list(net.layers)
    n = len(layers)
    roles = [role(layer, k, k == n - 1) for k, layer in enumerate(layers)]
    output = None
    if n > 1 and isinstance(layers[-1], (Activation, Softmax)):
        output, roles = layers[-1], roles[:-1]
    units = tuple(Unit(k, dict(net.nodes[k].names), r)
                  for k, r in enumerate(roles) if r in ("bilinear", "embedding", "norm"))
    acts = tuple(k for k, r in enumerate(roles) if r == "elementwise")
    generic = tuple(k for k, r in enumerate(roles) if r == "generic")
    curved = tuple(k for k, r in enumerate(roles) if r in ("curved", "norm"))
    return Template(units, acts, output, len(roles) - 1, generic, curved)


def structured_only(net, tpl: Template) -> None:
    """Raise where a layer has no structured second-order parts (its Hessian still comes
    from exact Hessian-vector products)."""
    if tpl.generic:
        k = tpl.generic[0]
        raise TensorcalcError(
            f"layer {k + 1} ({type(net.layers[k]).__name__}) has no structured second-order "
            f"parts (they are stated for dense and convolution layers, activations, a hidden "
            f"softmax, the norms, flatten, pooling, dropout and an embedding); tc.hessian "
            f"and tc.hvp still give its Hessian exactly, from its own forward and backward "
            f"differentiated by complex step.")
