"""Elementwise activations: each states its scalar derivative once, and the layer that applies
one.

The diagonal Jacobian ``da_i/dz_k = delta_ik f'(z_i)`` (``derivative``) and the Hadamard rule
``g (.) f'(z)`` (``hadamard``, the shortcut) are both generated from that one entry, so the two
backprop methods cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor
from ..core.validate import as_float_array
from .base import NAMED, Ctx, Layer, register_kind, wrap
from .primitive import Elementwise, example_normal, example_off_kink, feature_labels, get, register


def elementwise(name: str, short: str, f, prime, rule: str, example=None) -> Elementwise:
    """Register an activation from its value ``f`` and scalar derivative ``prime``."""

    def value(z):
        return f(as_float_array(z, "z"))

    def diagonal(sym, z):
        z = as_float_array(z, "z")
        labels = feature_labels(z.ndim)
        factor = Factor(prime(z), labels, f"{short}'({sym['z']})")
        return Derivative((factor,), labels, labels, dict(zip(labels, z.shape)), sym["out"],
                          sym["z"])

    formula = f"da_i/dz_k = delta_ik {short}'(z_i), with {rule}"
    return register(Elementwise(name, ("z",), "a", value, {"z": diagonal}, {"z": formula},
                                example or example_normal, prime, short))


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


LEAKY_SLOPE = 0.01

identity = elementwise("identity", "id", lambda z: z.copy(), np.ones_like, "id'(x) = 1")
def _sigmoid_prime(z):
    s = _sigmoid(z)
    return s * (1 - s)


sigmoid = elementwise("sigmoid", "sigma", _sigmoid, _sigmoid_prime,
                      "sigma'(x) = sigma(x)(1 - sigma(x))")
tanh = elementwise("tanh", "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2,
                   "tanh'(x) = 1 - tanh(x)^2")
relu = elementwise("relu", "relu", lambda z: np.maximum(z, 0.0),
                   lambda z: (z > 0).astype(z.dtype),
                   "relu'(x) = 1 if x > 0 else 0 (so relu'(0) = 0)",
                   example_off_kink)
leaky_relu = elementwise(
    "leaky_relu", "lrelu", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    lambda z: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
    f"lrelu'(x) = 1 if x > 0 else {LEAKY_SLOPE} (so lrelu'(0) = {LEAKY_SLOPE})", example_off_kink)
softplus = elementwise("softplus", "softplus",
                       lambda z: np.logaddexp(0.0, z).astype(z.dtype), _sigmoid,
                       "softplus'(x) = sigma(x)")

#: The elementwise activations, by name.
ACTIVATIONS: dict[str, Elementwise] = {
    p.name: p for p in (identity, sigmoid, tanh, relu, leaky_relu, softplus)}




@register_kind
class Activation(Layer):
    """An elementwise activation as a layer, by name: ``tc.Activation("relu")`` (a bare
    ``"relu"`` in a stack means the same).

    >>> import tensorcalc as tc
    >>> tc.Activation("tanh").primitive is tc.tanh
    True
    """

    kind = "activation"
    symbol = "a"

    def __init__(self, name: str | Elementwise) -> None:
        self.primitive = get(name, ACTIVATIONS, "activation")
        self.formulas = {"x": self.primitive.formulas["z"]}

    def forward(self, x, p):
        return self.primitive.value(x), None

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        return self.primitive.derivative(ctx.x, names={"z": ctx.sym["in"], "out": ctx.sym["out"]})

    def local_arrays(self, ctx: Ctx, wrt: str):
        return (self.primitive.prime(ctx.x),)

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        return self.primitive.hadamard(g, ctx.x), {}

    def input_text(self, expr: str, ctx: Ctx) -> str:
        if self.primitive.name == "identity":
            return expr
        return f"{wrap(expr)} (.) {self.primitive.short}'({ctx.sym['in']})"

    @classmethod
    def example(cls):
        return cls("tanh")

    @classmethod
    def from_words(cls, words):
        return cls(*words)

    def spec(self) -> str:
        return self.primitive.name

    def __repr__(self) -> str:
        return repr(self.primitive.name)


for _name in ACTIVATIONS:
    NAMED[_name] = lambda name=_name: Activation(name)
