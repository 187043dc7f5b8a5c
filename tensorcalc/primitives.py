"""The primitive registry: each primitive's value and local derivatives, one entry each.

An entry knows its arguments, which of them it differentiates, a one-line formula per
derivative in index notation, and how to draw example arguments (so the test suite checks every
registered entry against finite differences without naming it). Elementwise activations state
their scalar derivative once; the diagonal Jacobian (``derivative``) and the Hadamard rule
(``hadamard``, used by the shortcut backprop) are both generated from it.

Batches carry a leading axis: a batch of N vectors of size n is an (N, n) array, and the batch
label ``n`` is shared between output and input instead of being stored block-diagonally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_float_array
from .derivative import Derivative, Factor
from .errors import ShapeMismatchError, UnknownNameError

#: Every registered primitive by name.
REGISTRY: dict[str, Primitive] = {}


def register(primitive: Primitive) -> Primitive:
    REGISTRY[primitive.name] = primitive
    return primitive


def get(name: str, among: Mapping[str, Primitive] | None = None, what: str = "primitive"):
    """Look a primitive up by name, listing the valid names when it is unknown."""
    table = REGISTRY if among is None else among
    if isinstance(name, Primitive) and table.get(name.name) is name:
        return name
    if not isinstance(name, str) or name not in table:
        raise UnknownNameError(
            f"unknown {what} {name!r}; valid names are {', '.join(map(repr, table))}."
        )
    return table[name]


@dataclass(frozen=True)
class Primitive:
    """A function with its local derivatives as typed :class:`Derivative` objects.

    ``derivative(..., names=...)`` maps argument names (the keys of ``args``, e.g. ``"W"``,
    ``"a"``, ``"b"`` for ``linear``, ``"z"`` for an activation) and ``"out"`` (the result, e.g.
    ``"z"`` for ``linear``) to the symbols shown in factors and formulas, so a network can show
    ``dz^2/dW^2`` instead of ``dz/dW``.
    """

    name: str
    args: tuple[str, ...]
    out: str
    value: Callable[..., np.ndarray] = field(repr=False)
    derivatives: Mapping[str, Callable[..., Derivative]] = field(repr=False)
    formulas: Mapping[str, str]
    example: Callable[[np.random.Generator, int | None], tuple] = field(repr=False)

    def __call__(self, *args):
        return self.value(*args)

    def derivative(self, *args, wrt: str | None = None, names: Mapping[str, str] | None = None):
        """The local derivative d(out)/d(``wrt``) at ``args`` as a :class:`Derivative`."""
        wrt = wrt or next(iter(self.derivatives))
        if wrt not in self.derivatives:
            raise UnknownNameError(
                f"{self.name} is differentiated with respect to {', '.join(self.derivatives)}, "
                f"not {wrt!r}."
            )
        sym = {a: a for a in self.args} | {"out": self.out} | dict(names or {})
        return self.derivatives[wrt](sym, *args)

    @property
    def formula(self) -> str:
        """All of this primitive's derivative formulas, one per argument."""
        return "; ".join(self.formulas.values())


@dataclass(frozen=True)
class Elementwise(Primitive):
    """An activation applied entry by entry; its scalar derivative ``prime`` is stated once."""

    prime: Callable[[np.ndarray], np.ndarray] = field(default=None, repr=False)
    short: str = ""

    def hadamard(self, upstream: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The shortcut ``upstream (.) f'(z)``: the diagonal Jacobian applied, never built."""
        upstream, z = as_float_array(upstream, "upstream"), as_float_array(z, "z")
        if upstream.shape != z.shape:
            raise ShapeMismatchError(f"{self.name}.hadamard needs upstream and z of one shape; "
                                     f"got {upstream.shape} and {z.shape}.")
        return upstream * self.prime(z)


def elementwise(name: str, short: str, f, prime, rule: str, example=None) -> Elementwise:
    """Register an activation from its value ``f`` and scalar derivative ``prime``."""

    def value(z):
        return f(as_float_array(z, "z"))

    def diagonal(sym, z):
        z = as_float_array(z, "z")
        labels = "i" if z.ndim == 1 else "nijklm"[: z.ndim]
        factor = Factor(prime(z), labels, f"{short}'({sym['z']})")
        return Derivative((factor,), labels, labels, dict(zip(labels, z.shape)), sym["out"],
                          sym["z"])

    formula = f"da_i/dz_k = delta_ik {short}'(z_i), with {rule}"
    return register(Elementwise(name, ("z",), "a", value, {"z": diagonal}, {"z": formula},
                                example or _example_normal, prime, short))


def _example_normal(rng, batch):
    return (rng.normal(size=(batch, 5) if batch else 5),)


def _example_off_kink(rng, batch):
    z = rng.uniform(0.1, 2.0, size=(batch, 5) if batch else 5)
    return (z * rng.choice([-1.0, 1.0], size=z.shape),)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


LEAKY_SLOPE = 0.01

identity = elementwise("identity", "id", lambda z: z.copy(), np.ones_like, "id'(x) = 1")
sigmoid = elementwise("sigmoid", "sigma", _sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
                      "sigma'(x) = sigma(x)(1 - sigma(x))")
tanh = elementwise("tanh", "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2,
                   "tanh'(x) = 1 - tanh(x)^2")
relu = elementwise("relu", "relu", lambda z: np.maximum(z, 0.0),
                   lambda z: (z > 0).astype(z.dtype),
                   "relu'(x) = 1 if x > 0 else 0 (so relu'(0) = 0)",
                   _example_off_kink)
leaky_relu = elementwise(
    "leaky_relu", "lrelu", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    lambda z: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
    f"lrelu'(x) = 1 if x > 0 else {LEAKY_SLOPE} (so lrelu'(0) = {LEAKY_SLOPE})", _example_off_kink)
softplus = elementwise("softplus", "softplus",
                       lambda z: np.logaddexp(0.0, z).astype(z.dtype), _sigmoid,
                       "softplus'(x) = sigma(x)")

#: The elementwise activations, by name.
ACTIVATIONS: dict[str, Elementwise] = {p.name: p for p in REGISTRY.values()}


# ---------------------------------------------------------------- linear layer
def _linear_args(W, a, b=None):
    W, a = as_float_array(W, "W"), as_float_array(a, "a")
    if W.ndim != 2:
        raise ShapeMismatchError(f"W must be a matrix (n_out, n_in); got shape {W.shape}.")
    if a.ndim not in (1, 2) or a.shape[-1] != W.shape[1]:
        raise ShapeMismatchError(
            f"a must have shape ({W.shape[1]},) or (N, {W.shape[1]}) to match W of shape "
            f"{W.shape}; got {a.shape}."
        )
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (W.shape[0],):
            raise ShapeMismatchError(f"b must have shape ({W.shape[0]},) for W of shape "
                                     f"{W.shape}; got {b.shape}.")
    return W, a, b


def _linear_value(W, a, b=None):
    W, a, b = _linear_args(W, a, b)
    z = a @ W.T
    return z if b is None else z + b


def _batch(a, labels: str) -> str:
    return ("n" + labels) if a.ndim == 2 else labels


def _sizes(W, a):
    sizes = {"i": W.shape[0], "j": W.shape[1]}
    if a.ndim == 2:
        sizes["n"] = a.shape[0]
    return sizes


def _d_linear_a(sym, W, a, b=None):
    W, a, b = _linear_args(W, a, b)
    return Derivative((Factor(W, "ij", sym["W"]),), _batch(a, "i"), _batch(a, "j"),
                      _sizes(W, a), sym["out"], sym["a"])


def _d_linear_W(sym, W, a, b=None):
    W, a, b = _linear_args(W, a, b)
    return Derivative((Factor(a, _batch(a, "j"), sym["a"]),), _batch(a, "i"), "ij",
                      _sizes(W, a), sym["out"], sym["W"])


def _d_linear_b(sym, W, a, b=None):
    W, a, b = _linear_args(W, a, b)
    return Derivative((), _batch(a, "i"), "i", _sizes(W, a), sym["out"], sym["b"],
                      _dtype=np.result_type(W, a))


def _example_linear(rng, batch):
    a = rng.normal(size=(batch, 3) if batch else 3)
    return rng.normal(size=(4, 3)), a, rng.normal(size=4)


linear = register(Primitive(
    "linear", ("W", "a", "b"), "z", _linear_value,
    {"a": _d_linear_a, "W": _d_linear_W, "b": _d_linear_b},
    {"a": "dz_i/da_j = W_ij", "W": "dz_i/dW_kj = delta_ik a_j", "b": "dz_i/db_k = delta_ik"},
    _example_linear,
))


# ---------------------------------------------------------------- softmax family
def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _vector_or_batch(z, name):
    z = as_float_array(z, name)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ShapeMismatchError(f"{name} must be a vector (n,) or a batch (N, n) with n >= 1; "
                                 f"got shape {z.shape}.")
    return z


def _jacobian_factor(J, z, symbol, sym):
    out, inp = ("ni", "nj") if z.ndim == 2 else ("i", "j")
    labels = "nij" if z.ndim == 2 else "ij"
    sizes = dict(zip(labels, J.shape))
    return Derivative((Factor(J, labels, symbol),), out, inp, sizes, sym["out"], sym["z"])


def _d_softmax(sym, z):
    p = _softmax(_vector_or_batch(z, "z"))
    J = np.eye(p.shape[-1], dtype=p.dtype) * p[..., None] - p[..., :, None] * p[..., None, :]
    return _jacobian_factor(J, p, f"(diag(p) - p p^T)({sym['z']})", sym)


def _d_log_softmax(sym, z):
    p = _softmax(_vector_or_batch(z, "z"))
    J = np.eye(p.shape[-1], dtype=p.dtype) - p[..., None, :]
    return _jacobian_factor(J, p, f"(I - 1 p^T)({sym['z']})", sym)


softmax = register(Primitive(
    "softmax", ("z",), "p", lambda z: _softmax(_vector_or_batch(z, "z")), {"z": _d_softmax},
    {"z": "dp_i/dz_j = p_i (delta_ij - p_j)"}, _example_normal))
log_softmax = register(Primitive(
    "log_softmax", ("z",), "logp", lambda z: _log_softmax(_vector_or_batch(z, "z")),
    {"z": _d_log_softmax}, {"z": "dlogp_i/dz_j = delta_ij - p_j"}, _example_normal))
