"""The typed derivative: an einsum network of labelled factors with output and input labels.

A :class:`Derivative` of ``y`` (shape Y) by ``x`` (shape X) stands for a tensor of shape ``Y + X``
(the canonical layout). It is stored as factors, each an array whose axes carry index labels, plus
the labels of the output axes and of the input axes. A label on both sides is a Kronecker delta,
so ``dz/dW`` for ``z = W a`` is the single factor ``a[j]`` with output ``i`` and input ``i, j``:
``dz_i/dW_kj = delta_ik a_j``. Nothing is multiplied out until a number is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import layout as _layout
from . import render as _render
from ._validate import _trusted, as_float_array, readonly
from .contract import contract, contract_full, einsum_spec
from .errors import MemoryLimitError, ShapeMismatchError, TensorcalcError
from .labels import fresh_labels, kind_name

_dense_limit = [1 << 30]


def set_dense_limit(nbytes: int) -> int:
    """Set the largest tensor, in bytes, that ``dense()`` may build; return the old limit."""
    try:
        ok = int(nbytes) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TensorcalcError(f"the dense limit must be a positive number of bytes, got "
                              f"{nbytes!r}.")
    old, _dense_limit[0] = _dense_limit[0], int(nbytes)
    return old


def get_dense_limit() -> int:
    """The largest tensor, in bytes, that ``dense()`` builds (default 1 GiB)."""
    return _dense_limit[0]


@dataclass(frozen=True)
class Factor:
    """One array of a derivative network, its axis labels and the symbol it is shown as."""

    array: np.ndarray
    labels: str
    symbol: str

    def __repr__(self) -> str:
        return f"{self.symbol}[{','.join(self.labels)}] {tuple(self.array.shape)}"


@dataclass(frozen=True, eq=False, repr=False)
class Derivative:
    """A derivative tensor d``of``/d``wrt``, stored as an einsum network.

    Most users build one with :meth:`from_array`, get one from a primitive's ``derivative``
    method, or from :func:`tensorcalc.chain`. The direct constructor takes the network itself.

    >>> import numpy as np
    >>> import tensorcalc as tc
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> factors = [tc.Factor(a, "j", "a")]
    >>> dz_dW = tc.Derivative(factors, "i", "ij", {"i": 4, "j": 3}, of="z", wrt="W")
    >>> dz_dW.kind, dz_dW.shape
    ('vector-by-matrix', (4, 4, 3))
    >>> float(dz_dW.dense()[1, 1, 2]), float(dz_dW.dense()[0, 1, 2])
    (3.0, 0.0)
    """

    factors: tuple[Factor, ...]
    out_labels: str
    in_labels: str
    sizes: Mapping[str, int]
    of: str = "y"
    wrt: str = "x"
    _checked: bool = field(default=False, compare=False)
    _dtype: np.dtype | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self._checked or _trusted.get():  # built by the library from checked arrays
            return
        factors = tuple(self.factors)
        object.__setattr__(self, "factors", factors)
        object.__setattr__(self, "out_labels", "".join(self.out_labels))
        object.__setattr__(self, "in_labels", "".join(self.in_labels))
        object.__setattr__(self, "sizes", {k: int(v) for k, v in self.sizes.items()})
        self._validate()
        used = set(self.out_labels + self.in_labels).union(*(f.labels for f in self.factors))
        object.__setattr__(self, "sizes", {k: v for k, v in self.sizes.items() if k in used})

    def _validate(self) -> None:
        for f in self.factors:
            if not isinstance(f, Factor):
                raise TensorcalcError(f"factors must be tc.Factor(array, labels, symbol); got "
                                      f"{type(f).__name__}.")
        labels = self.out_labels + self.in_labels + "".join(f.labels for f in self.factors)
        bad = sorted({c for c in labels if not c.isalpha()})
        if bad:
            raise TensorcalcError(f"index labels must be single letters; got {bad}.")
        if any(n < 0 for n in self.sizes.values()):
            raise TensorcalcError(f"label sizes must be >= 0; got {self.sizes}.")
        for label in self.out_labels + self.in_labels:
            if label not in self.sizes:
                raise TensorcalcError(f"label {label!r} has no size; sizes are {self.sizes}.")
        factors = [Factor(as_float_array(f.array, f"factor {f.symbol}"), f.labels, f.symbol)
                   for f in self.factors]
        object.__setattr__(self, "factors", tuple(factors))
        for f in self.factors:
            if f.array.ndim != len(f.labels):
                raise TensorcalcError(
                    f"factor {f!r} must be a Factor with one label per axis "
                    f"(got {len(f.labels)} labels)."
                )
            for label, n in zip(f.labels, f.array.shape):
                if self.sizes.get(label, n) != n:
                    raise ShapeMismatchError(
                        f"factor {f.symbol} has size {n} on label {label!r}, "
                        f"but the label has size {self.sizes[label]} elsewhere."
                    )
                self.sizes.setdefault(label, n)
        # our own read-only copies: later changes to the caller's arrays cannot reach us
        cleaned = [Factor(readonly(np.array(f.array)), f.labels, f.symbol) for f in self.factors]
        object.__setattr__(self, "factors", tuple(cleaned))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_array(
        cls,
        array: object,
        out_shape: Sequence[int],
        in_shape: Sequence[int],
        *,
        of: str = "y",
        wrt: str = "x",
    ) -> Derivative:
        """Wrap a dense tensor of shape ``out_shape + in_shape`` (canonical layout).

        >>> import numpy as np, tensorcalc as tc
        >>> J = tc.Derivative.from_array(np.eye(3), out_shape=(3,), in_shape=(3,), of="a", wrt="z")
        >>> J.kind
        'jacobian'
        """
        arr = as_float_array(array, "array")
        out_shape, in_shape = tuple(int(n) for n in out_shape), tuple(int(n) for n in in_shape)
        if arr.shape != out_shape + in_shape:
            raise ShapeMismatchError(
                f"array has shape {arr.shape}, but a derivative of shape {out_shape} by "
                f"{in_shape} needs shape {out_shape + in_shape} (output axes, then input axes)."
            )
        labels = fresh_labels(arr.ndim)
        out_l, in_l = "".join(labels[: len(out_shape)]), "".join(labels[len(out_shape) :])
        sizes = dict(zip(labels, arr.shape))
        return cls((Factor(arr, out_l + in_l, f"d{of}/d{wrt}"),), out_l, in_l, sizes, of, wrt)

    @classmethod
    def _wrap(cls, array: np.ndarray, out_shape: tuple, in_shape: tuple, of: str,
              wrt: str) -> Derivative:
        """Internal: a dense derivative around a fresh, checked array (no copy)."""
        labels = "".join(fresh_labels(array.ndim))
        k = len(out_shape)
        return cls((Factor(readonly(array), labels, f"d{of}/d{wrt}"),), labels[:k], labels[k:],
                   dict(zip(labels, array.shape)), of, wrt, _checked=True)

    @classmethod
    def from_layout(
        cls,
        array: object,
        layout: str,
        out_shape: Sequence[int],
        in_shape: Sequence[int],
        *,
        of: str = "y",
        wrt: str = "x",
    ) -> Derivative:
        """Inverse of :meth:`to_layout`: read an array given in ``layout``."""
        arr = as_float_array(array, "array")
        canonical = _layout.from_layout(arr, layout, tuple(out_shape), tuple(in_shape))
        return cls.from_array(canonical, out_shape, in_shape, of=of, wrt=wrt)

    @classmethod
    def identity(cls, shape: Sequence[int], *, of: str = "x", wrt: str = "x",
                 dtype=np.float64) -> Derivative:
        """dx/dx for x of ``shape``: every label a delta, no factor."""
        labels = "".join(fresh_labels(len(shape)))
        return cls((), labels, labels, dict(zip(labels, shape)), of, wrt, _dtype=np.dtype(dtype))

    # ------------------------------------------------------------------ shapes and kind
    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[c] for c in self.out_labels)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[c] for c in self.in_labels)

    @property
    def shape(self) -> tuple[int, ...]:
        """The canonical shape: output shape, then input shape."""
        return self.out_shape + self.in_shape

    @property
    def kind(self) -> str:
        """'gradient', 'jacobian', 'vector-by-matrix', ... from the two ranks."""
        return kind_name(len(self.out_labels), len(self.in_labels))

    @property
    def dtype(self) -> np.dtype:
        """float64, or float32 when every factor is float32 (a derivative without factors
        keeps the dtype it was built with, float64 by default)."""
        if not self.factors:
            return np.dtype(self._dtype or np.float64)
        return np.result_type(*(f.array.dtype for f in self.factors))

    @property
    def deltas(self) -> str:
        """Labels that stand on both the output and the input side (Kronecker deltas)."""
        return "".join(c for c in dict.fromkeys(self.out_labels) if c in self.in_labels)

    @property
    def nbytes_dense(self) -> int:
        """Bytes the full canonical tensor takes."""
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def structural_zero_fraction(self) -> float:
        """Fraction of dense entries that are zero by structure (off a delta's diagonal)."""
        total = math.prod(self.shape)
        free = math.prod(self.sizes[c] for c in dict.fromkeys(self.out_labels + self.in_labels))
        return 0.0 if total == 0 else 1.0 - free / total

    @property
    def structure(self) -> str:
        """A short description: 'dense', 'diagonal', '1 delta', 'factored', 'identity'."""
        if not self.factors and self.out_labels == self.in_labels:
            return "identity"
        n = len(self.deltas)
        if n and self.out_labels == self.in_labels and len(set(self.out_labels)) == n:
            return "diagonal"
        if n:
            return f"{n} delta{'s' if n > 1 else ''}"
        return "dense" if len(self.factors) == 1 else "factored"

    # ------------------------------------------------------------------ numbers
    @property
    def result_labels(self) -> str:
        """Labels of the compact value: distinct output/input labels that some factor carries."""
        present = {c for f in self.factors for c in f.labels}
        return "".join(c for c in dict.fromkeys(self.out_labels + self.in_labels) if c in present)

    @property
    def spec(self) -> str:
        """The einsum string that computes the compact value, e.g. ``'ni,ni,nj->ij'``."""
        return einsum_spec([f.labels for f in self.factors], self.result_labels)

    @property
    def operands(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(symbol, labels, shape)`` of each factor, in the order of :attr:`spec`."""
        return [(f.symbol, f.labels, tuple(f.array.shape)) for f in self.factors]

    @cached_property
    def compact(self) -> np.ndarray:
        """The contracted value over :attr:`result_labels` (deltas not expanded)."""
        arr = contract([(f.array, f.labels) for f in self.factors], self.result_labels)
        return readonly(arr.astype(self.dtype, copy=False))

    def contracted(self, symbol: str | None = None) -> Derivative:
        """The same derivative with its factors multiplied out into one, deltas kept."""
        labels = self.result_labels
        factor = Factor(self.compact, labels, symbol or f"d{self.of}/d{self.wrt}")
        sizes = {c: self.sizes[c] for c in self.out_labels + self.in_labels}
        return Derivative((factor,), self.out_labels, self.in_labels, sizes,
                          self.of, self.wrt, _checked=True, _dtype=self.dtype)

    def check_dense_size(self, max_bytes: int | None = None) -> None:
        """Raise :class:`MemoryLimitError` if the dense tensor is above the limit."""
        limit = get_dense_limit() if max_bytes is None else int(max_bytes)
        if self.nbytes_dense > limit:
            raise MemoryLimitError(
                f"dense() of the {self.kind} d{self.of}/d{self.wrt} with shape {self.shape} needs "
                f"{self.nbytes_dense:,} bytes, above the limit of {limit:,} bytes "
                f"({self.structural_zero_fraction:.1%} of it would be structural zeros). Contract "
                f"it first (chain it with a gradient, or use .compact), or raise the limit with "
                f"tc.set_dense_limit(nbytes)."
            )

    def dense(self, max_bytes: int | None = None) -> np.ndarray:
        """The full tensor in canonical layout, deltas expanded with identity matrices."""
        self.check_dense_size(max_bytes)
        operands = [(f.array, f.labels) for f in self.factors]
        value = contract_full(operands, self.out_labels + self.in_labels, self.sizes, self.dtype)
        return value.reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        arr = self.dense()
        return arr if dtype is None else arr.astype(dtype)

    def to_layout(self, layout: str) -> np.ndarray:
        """The dense tensor in ``'canonical'``, ``'numerator'`` or ``'denominator'`` layout."""
        _layout.check_layout(layout)
        return _layout.to_layout(self.dense(), layout, self.out_shape, self.in_shape)

    # ------------------------------------------------------------------ composition, display
    def index_notation(self) -> str:
        """The entry formula in index notation, e.g. ``dz_i/dW_kj = a_j delta_ik``."""
        return _render.index_notation(self.of, self.wrt, self.out_labels, self.in_labels,
                                      [(f.symbol, f.labels) for f in self.factors])

    def latex(self) -> str:
        """The entry formula as LaTeX (see :meth:`index_notation`)."""
        return _render.latex(self.of, self.wrt, self.out_labels, self.in_labels,
                             [(f.symbol, f.labels) for f in self.factors])

    def matrix_notation(self) -> str | None:
        """The contraction in matrix notation (``W^2T delta^2``, ``delta a^T``, ``x (.) y``)
        when it is made of matrix products, transposes, outer and Hadamard products; else None."""
        return _render.matrix_notation([(f.symbol, f.labels) for f in self.factors],
                                       self.result_labels)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_html_(self) -> str:
        return _render.derivative_html(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def __matmul__(self, other: Derivative) -> Derivative:
        from .chain import chain

        return chain(self, other)

    def __repr__(self) -> str:
        factors = " ".join(f"{f.symbol}[{f.labels}]" for f in self.factors) or "(none)"
        return (
            f"<Derivative {self.kind} d{self.of}/d{self.wrt}: out {self.out_shape} "
            f"in {self.in_shape}, {self.structure}, {self.nbytes_dense:,} B when dense "
            f"({self.structural_zero_fraction:.0%} structural zeros); "
            f"labels {self.out_labels or '-'}|{self.in_labels or '-'}; factors {factors}>"
        )
