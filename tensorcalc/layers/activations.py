"""Elementwise activations: each states its scalar derivative and its scalar second derivative
once, and the layer that applies one.

The diagonal Jacobian ``da_i/dz_k = delta_ik f'(z_i)`` (``derivative``) and the Hadamard rule
``g (.) f'(z)`` (``hadamard``, the shortcut) are both generated from ``f'``, so the two
backprop methods cannot drift apart; likewise the second derivative
``d2a_i/dz_j dz_k = f''(z_i) delta_ij delta_ik`` (``second_derivative``, output labels ``i``,
input labels ``ii``) and ``g (.) f''(z)`` (``second_hadamard``) from ``f''``.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor
from ..core.validate import as_float_array
from ..errors import TensorcalcError
from .base import NAMED, Ctx, Layer, register_kind, wrap
from .primitive import (
    Elementwise,
    example_normal,
    example_off_kink,
    feature_labels,
    get,
    register,
    twice,
)
from .words import Words


def elementwise(name: str, short: str, f, prime, rule: str, example=None,
                registered: bool = True, *, second, second_rule: str) -> Elementwise:
    """Register an activation from its value ``f``, scalar derivative ``prime`` and scalar
    second derivative ``second`` (a variant with a parameter, ``registered=False``, is made
    without registering it)."""

    def value(z):
        return f(as_float_array(z, "z"))

    def diagonal(sym, z, scalar=prime, mark="'", inputs=lambda labels: labels):
        z = as_float_array(z, "z")
        labels = feature_labels(z.ndim)
        factor = Factor(scalar(z), labels, f"{short}{mark}({sym['z']})")
        return Derivative((factor,), labels, inputs(labels), dict(zip(labels, z.shape)),
                          sym["out"], sym["z"])

    def second_diagonal(sym, z):
        return diagonal(sym, z, second, "''", twice)

    formula = f"da_i/dz_k = delta_ik {short}'(z_i), with {rule}"
    second_formula = (f"d2a_i/dz_j dz_k = {short}''(z_i) delta_ij delta_ik, with "
                      f"{second_rule}")
    entry = Elementwise(name, ("z",), "a", value, {"z": diagonal}, {"z": formula},
                        example or example_normal, {"z": second_diagonal},
                        {"z": second_formula}, prime=prime, short=short, double_prime=second)
    return register(entry) if registered else entry


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _zero(z):
    return np.zeros_like(z)


LEAKY_SLOPE = 0.01

identity = elementwise("identity", "id", lambda z: z.copy(), np.ones_like, "id'(x) = 1",
                       second=_zero, second_rule="id''(x) = 0")


def _sigmoid_prime(z):
    s = _sigmoid(z)
    return s * (1 - s)


def _sigmoid_second(z):
    s = _sigmoid(z)
    return s * (1 - s) * (1 - 2 * s)


def _tanh_second(z):
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


sigmoid = elementwise("sigmoid", "sigma", _sigmoid, _sigmoid_prime,
                      "sigma'(x) = sigma(x)(1 - sigma(x))", second=_sigmoid_second,
                      second_rule="sigma''(x) = sigma(x)(1 - sigma(x))(1 - 2 sigma(x))")
tanh = elementwise("tanh", "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2,
                   "tanh'(x) = 1 - tanh(x)^2", second=_tanh_second,
                   second_rule="tanh''(x) = -2 tanh(x)(1 - tanh(x)^2)")
relu = elementwise("relu", "relu", lambda z: np.maximum(z, 0.0),
                   lambda z: (z > 0).astype(z.dtype),
                   "relu'(x) = 1 if x > 0 else 0 (so relu'(0) = 0)",
                   example_off_kink, second=_zero,
                   second_rule="relu''(x) = 0 (almost everywhere; 0 at the kink too)")
def leaky(slope: float = LEAKY_SLOPE, registered: bool = False) -> Elementwise:
    """Leaky ReLU with negative ``slope`` (0.01, torch's default, is the registered one)."""
    return elementwise(
        "leaky_relu", "lrelu", lambda z: np.where(z > 0, z, slope * z),
        lambda z: np.where(z > 0, 1.0, slope).astype(z.dtype),
        f"lrelu'(x) = 1 if x > 0 else {slope:g} (so lrelu'(0) = {slope:g})", example_off_kink,
        registered, second=_zero,
        second_rule="lrelu''(x) = 0 (almost everywhere; 0 at the kink too)")


leaky_relu = leaky(LEAKY_SLOPE, registered=True)
softplus = elementwise("softplus", "softplus",
                       lambda z: np.logaddexp(0.0, z).astype(z.dtype), _sigmoid,
                       "softplus'(x) = sigma(x)", second=_sigmoid_prime,
                       second_rule="softplus''(x) = sigma(x)(1 - sigma(x))")

_erf = np.vectorize(math.erf, otypes=[float])


def erf(z: np.ndarray) -> np.ndarray:
    """The error function entry by entry (``math.erf``: exact to rounding; numpy has none)."""
    return _erf(z).astype(np.result_type(z, np.float32), copy=False)


_C = math.sqrt(2.0 / math.pi)
_A = 0.044715


def _phi(z):
    """The standard normal density."""
    return np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _gelu_tanh_parts(z):
    """``t = tanh(u)``, ``u' = du/dz`` and the first derivative, ``u = c (z + a z^3)``."""
    t = np.tanh(_C * (z + _A * z ** 3))
    du = _C * (1 + 3 * _A * z * z)
    return t, du, 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du


def _gelu_tanh_second(z):
    t, du, _ = _gelu_tanh_parts(z)
    return (1 - t * t) * (du - z * t * du * du + 3 * _A * _C * z * z)


gelu = elementwise("gelu", "gelu", lambda z: 0.5 * z * (1 + erf(z / math.sqrt(2))),
                   lambda z: 0.5 * (1 + erf(z / math.sqrt(2))) + z * _phi(z),
                   "gelu(x) = x Phi(x) (exact, with erf), gelu'(x) = Phi(x) + x phi(x)",
                   second=lambda z: _phi(z) * (2 - z * z),
                   second_rule="gelu''(x) = phi(x) (2 - x^2)")
gelu_tanh = elementwise("gelu_tanh", "gelu_tanh",
                        lambda z: 0.5 * z * (1 + _gelu_tanh_parts(z)[0]),
                        lambda z: _gelu_tanh_parts(z)[2],
                        "the tanh approximation of gelu, "
                        "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
                        second=_gelu_tanh_second,
                        second_rule="gelu_tanh''(x) = (1 - t^2)(u' - x t u'^2 + x u''/2), "
                                    "t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3)")


def _silu_second(z):
    s = _sigmoid(z)
    return s * (1 - s) * (2 + z * (1 - 2 * s))


silu = elementwise("silu", "silu", lambda z: z * _sigmoid(z),
                   lambda z: _sigmoid(z) * (1 + z * (1 - _sigmoid(z))),
                   "silu(x) = x sigma(x), silu'(x) = sigma(x) (1 + x (1 - sigma(x)))",
                   second=_silu_second,
                   second_rule="silu''(x) = sigma(x)(1 - sigma(x))(2 + x (1 - 2 sigma(x)))")
elu = elementwise("elu", "elu", lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))).astype(z.dtype),
                  "elu(x) = x if x > 0 else exp(x) - 1 (alpha 1), elu'(x) = 1 or exp(x)",
                  second=lambda z: np.where(z > 0, 0.0, np.exp(np.minimum(z, 0))).astype(
                      z.dtype),
                  second_rule="elu''(x) = 0 if x > 0 else exp(x)")

#: The elementwise activations, by name.
ACTIVATIONS: dict[str, Elementwise] = {
    p.name: p for p in (identity, sigmoid, tanh, relu, leaky_relu, softplus, gelu, gelu_tanh,
                        silu, elu)}




@register_kind
class Activation(Layer):
    """An elementwise activation as a layer, by name: ``tc.Activation("relu")`` (a bare
    ``"relu"`` in a stack means the same).

    >>> import tensorcalc as tc
    >>> tc.Activation("tanh").primitive is tc.tanh
    True
    """

    kind = "activation"
    grammar = "[activation] NAME (relu, tanh, ...), or [activation] leaky_relu [slope]"
    symbol = "a"

    def __init__(self, name: str | Elementwise, *, approximate: str = "none",
                 slope: float | None = None) -> None:
        if name == "gelu" and approximate == "tanh":
            name = "gelu_tanh"
        elif approximate != "none":
            raise TensorcalcError(f"approximate={approximate!r} applies to 'gelu' only, as "
                                  f"'tanh' (torch's two GELU forms).")
        if slope is not None and name != "leaky_relu":
            raise TensorcalcError("slope= applies to 'leaky_relu' only.")
        self.slope = slope
        self.primitive = (leaky(float(slope)) if slope is not None and slope != LEAKY_SLOPE
                          else get(name, ACTIVATIONS, "activation"))
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

    def spec(self) -> str:
        return self.primitive.name + ("" if self.slope in (None, LEAKY_SLOPE) else
                                      f" {self.slope:g}")

    @classmethod
    def from_words(cls, words):
        """``NAME``, or ``leaky_relu [slope]``."""
        w = Words(cls, words)
        name = w.value("the activation's name", str)
        slope = w.optional(float) if name == "leaky_relu" else None
        w.done()
        return cls(name, slope=slope)

    def __repr__(self) -> str:
        if self.slope not in (None, LEAKY_SLOPE):
            return f"Activation('leaky_relu', slope={self.slope:g})"
        return repr(self.primitive.name)


for _name in ACTIVATIONS:
    NAMED[_name] = lambda name=_name: Activation(name)
