"""Which networks second order covers, and their layers read as the dense template: dense
layers, each followed by an elementwise activation (or none), and a last dense layer whose
output activation (elementwise, or softmax) belongs with the loss."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TensorcalcError
from ..layers import Activation, Dense, Softmax


@dataclass(frozen=True)
class Unit:
    """One dense layer (its position among the network's layers, 0-based) and the
    elementwise activation after it (None for the last, whose activation is the output's)."""

    dense: int
    activation: int | None
    names: dict


@dataclass(frozen=True)
class Template:
    units: tuple[Unit, ...]
    output: object  # the output layer (Activation or Softmax) or None

    @property
    def last(self) -> Unit:
        return self.units[-1]


def template(net) -> Template:
    """The network as dense units, or a ``TensorcalcError`` naming the first layer that second
    order does not cover yet."""
    layers, units, k = list(net.layers), [], 0
    while k < len(layers):
        layer = layers[k]
        if not isinstance(layer, Dense):
            raise _unsupported(layer, k)
        after = layers[k + 1] if k + 1 < len(layers) else None
        last = k + 1 >= len(layers) - 1
        names = dict(net.nodes[k].names)
        if isinstance(after, Activation) and not last:
            units.append(Unit(k, k + 1, names))
            k += 2
        elif isinstance(after, Dense):
            units.append(Unit(k, None, names))
            k += 1
        elif after is None or (last and isinstance(after, (Activation, Softmax))):
            units.append(Unit(k, None, names))
            return Template(tuple(units), after)
        else:
            raise _unsupported(after, k + 1)
    return Template(tuple(units), None)


def _unsupported(layer, k: int) -> TensorcalcError:
    return TensorcalcError(
        f"second order covers stacks of dense layers with elementwise activations and a "
        f"softmax or elementwise output so far; layer {k + 1} ({type(layer).__name__}) has no "
        f"second-order entry yet.")
