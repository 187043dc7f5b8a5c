"""Residual blocks: ``y = x + f(x)`` for an inner stack f. The sum rule gives ``dy/dx = I +
J_f``, two terms; backprop adds the skip path's gradient to the inner stack's.

The inner layers are ordinary layers (their parameters are numbered with the rest of the
network); what a block adds is only the identity term and the sum of the two gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.chain import chain
from ..core.derivative import Derivative
from ..errors import TensorcalcError
from .base import Layer, as_layer, register_kind
from .dense import Dense


@register_kind
class Residual(Layer):
    """``y = x + f(x)`` where f is the stack ``layers``; f must keep the shape of x.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Dense(4), tc.Residual([tc.Dense(4), "tanh"])],
    ...                        input_shape=(3,))
    >>> list(net.params)
    ['W1', 'b1', 'W2', 'b2']
    """

    kind = "residual"
    symbol = "h"
    takes_stack = True
    formulas = {"x": "dh_i/dx_k = delta_ik + df_i/dx_k"}

    def __init__(self, layers: Sequence[Layer | str]) -> None:
        if isinstance(layers, (str, Layer)) or not layers:
            raise TensorcalcError("Residual(layers) takes a non-empty list of layers, e.g. "
                                  "tc.Residual([tc.Dense(16), 'relu']).")
        self.layers = tuple(as_layer(item) for item in layers)

    @classmethod
    def example(cls):
        return cls([Dense(4), "tanh"])

    def children(self) -> tuple[Layer, ...]:
        return self.layers

    def local_from(self, inner: Sequence[Derivative], shape, sym) -> Derivative:
        """``I + J_f`` from the inner layers' input derivatives, outermost first."""
        f = chain(*inner)
        eye = Derivative.identity(shape, of=sym["out"], wrt=sym["in"], dtype=f.dtype)
        return eye + f

    def merge(self, skip, inner):
        """The sum rule: the block's input gradient is the skip path's plus f's."""
        return skip + inner

    def input_text(self, expr: str, inner: str) -> str:
        return f"{expr} + {inner}"

    def spec(self) -> str:
        return "residual(" + ", ".join(layer.spec() for layer in self.layers) + ")"

    def __repr__(self) -> str:
        return f"Residual([{', '.join(map(repr, self.layers))}])"
