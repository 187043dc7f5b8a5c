"""The primitive registry: each primitive's value and local derivatives, one entry each.

An entry knows its arguments, which of them it differentiates, a one-line formula per
derivative in index notation, and how to draw example arguments (so the test suite checks every
registered entry against finite differences without naming it). Elementwise activations state
their scalar derivative once; the diagonal Jacobian (``derivative``) and the Hadamard rule
(``hadamard``, used by the shortcut backprop) are both generated from it.

Second derivatives are stated the same way (``seconds``, ``second_formulas``):
``second_derivative`` gives d^2(out)/d(x) d(x) as a :class:`Derivative` whose input axes are the
argument's axes twice (``in_shape = x.shape + x.shape``). An elementwise activation states its
scalar ``f''`` once (``double_prime``); its structured second derivative (output ``i``, input
``ii``: ``f''(z_i) delta_ij delta_ik``) and ``second_hadamard`` are generated from it.

Batches carry a leading axis: a batch of N vectors of size n is an (N, n) array, and the batch
label ``n`` is shared between output and input instead of being stored block-diagonally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor, Term
from ..core.validate import _trusted, as_float_array, readonly
from ..errors import ShapeMismatchError, UnknownNameError

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
    derivatives: Mapping[str, Callable[..., object]] = field(repr=False)
    formulas: Mapping[str, str]
    example: Callable[[np.random.Generator, int | None], tuple] = field(repr=False)
    seconds: Mapping[str, Callable[..., object]] = field(default_factory=dict, repr=False)
    second_formulas: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, *args, **options):
        return self.value(*args, **options)

    def derivative(self, *args, wrt: str | None = None, names: Mapping[str, str] | None = None,
                   **options):
        """The local derivative d(out)/d(``wrt``) at ``args`` (and keyword ``options`` such as
        a convolution's ``stride``) as a :class:`Derivative`."""
        wrt = wrt or next(iter(self.derivatives))
        if wrt not in self.derivatives:
            raise UnknownNameError(
                f"{self.name} is differentiated with respect to {', '.join(self.derivatives)}, "
                f"not {wrt!r}."
            )
        return self.derivatives[wrt](self.symbols(names), *args, **options)

    def symbols(self, names: Mapping[str, str] | None = None) -> dict[str, str]:
        """The display symbol of each argument and of ``"out"``, with ``names`` applied."""
        return {a: a for a in self.args} | {"out": self.out} | dict(names or {})

    def second_derivative(self, *args, wrt: str | None = None,
                          names: Mapping[str, str] | None = None, **options):
        """The second derivative d^2(out)/d(``wrt``) d(``wrt``) at ``args`` as a
        :class:`Derivative` with ``out_shape`` the output's shape and ``in_shape`` the shape of
        ``wrt`` twice (entry ``[i..., j..., k...] = d^2 out_i / dx_j dx_k``). A batch label
        is shared by the output and both input copies (samples do not interact).

        >>> import numpy as np, tensorcalc as tc
        >>> H = tc.softplus.second_derivative(np.zeros(2))   # softplus'' = sigma (1 - sigma)
        >>> H.shape, float(H.dense()[1, 1, 1]), float(H.dense()[1, 0, 1])
        ((2, 2, 2), 0.25, 0.0)
        >>> tc.softmax.second_derivative(np.zeros((4, 3))).shape
        (4, 3, 4, 3, 4, 3)
        """
        wrt = wrt or next(iter(self.derivatives))
        if wrt not in self.seconds:
            stated = ", ".join(self.seconds) or "no argument"
            raise UnknownNameError(
                f"{self.name} states its second derivative with respect to {stated}, "
                f"not {wrt!r}.")
        return self.seconds[wrt](self.symbols(names), *args, **options)

    @property
    def formula(self) -> str:
        """All of this primitive's derivative formulas, one per argument."""
        return "; ".join(self.formulas.values())

    @property
    def second_formula(self) -> str:
        """All of this primitive's second-derivative formulas ("" when it states none)."""
        return "; ".join(self.second_formulas.values())


@dataclass(frozen=True)
class Elementwise(Primitive):
    """An activation applied entry by entry; its scalar derivative ``prime`` and its scalar
    second derivative ``double_prime`` are each stated once."""

    prime: Callable[[np.ndarray], np.ndarray] = field(default=None, repr=False)
    short: str = ""
    double_prime: Callable[[np.ndarray], np.ndarray] = field(default=None, repr=False)

    def hadamard(self, upstream: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The shortcut ``upstream (.) f'(z)``: the diagonal Jacobian applied, never built."""
        return self._times(upstream, z, self.prime, "hadamard")

    def second_hadamard(self, upstream: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``upstream (.) f''(z)``: a gradient ``g`` of ``a = f(z)`` chained with the second
        derivative, i.e. the diagonal of d^2(g . a)/dz dz, never built as a tensor.

        >>> import numpy as np, tensorcalc as tc
        >>> tc.tanh.second_hadamard(np.ones(2), np.zeros(2)).tolist()
        [0.0, 0.0]
        """
        return self._times(upstream, z, self.double_prime, "second_hadamard")

    def _times(self, upstream, z, scalar, what: str) -> np.ndarray:
        upstream, z = as_float_array(upstream, "upstream"), as_float_array(z, "z")
        if upstream.shape != z.shape:
            raise ShapeMismatchError(f"{self.name}.{what} needs upstream and z of one shape; "
                                     f"got {upstream.shape} and {z.shape}.")
        return upstream * scalar(z)


def feature_labels(ndim: int, letters: str = "ijklm") -> str:
    """Labels of an array's axes: ``"i"`` for a vector, ``"ni"`` for a batch of vectors."""
    return letters[:ndim] if ndim <= 1 else "n" + letters[: ndim - 1]


def twice(labels: str) -> str:
    """The input labels of a second derivative whose two input copies share every label with
    ``labels`` (a diagonal in both copies): ``"ii"`` for ``"i"``, ``"nini"`` for ``"ni"``."""
    return labels + labels


def example_normal(rng, batch):
    return (rng.normal(size=(batch, 5) if batch else 5),)


def example_off_kink(rng, batch):
    z = rng.uniform(0.1, 2.0, size=(batch, 5) if batch else 5)
    return (z * rng.choice([-1.0, 1.0], size=z.shape),)


def structured(terms, sizes, of: str, wrt: str, dtype=None):
    """A derivative from terms given as ``(coef, [(array, labels, symbol), ...], out_labels,
    in_labels)``, whose axis letters already agree (every term uses the same letter on an axis
    where that axis is the first of its delta class). Arrays are copied unless the library
    validated them already, so a caller's later change cannot reach the result."""
    trusted = _trusted.get()
    built = tuple(
        Term(tuple(Factor(readonly(arr if trusted else np.array(arr)), lab, sym)
                   for arr, lab, sym in factors), out, inp, float(coef))
        for coef, factors, out, inp in terms)
    return Derivative._make(built, dict(sizes), of, wrt, dtype)
