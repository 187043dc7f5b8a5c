"""The typed derivative: a sum of einsum networks of labelled factors over output and input axes.

A :class:`Derivative` of ``y`` (shape Y) by ``x`` (shape X) stands for a tensor of shape ``Y + X``
(the canonical layout). It is stored as terms (see :mod:`tensorcalc.core.term`), each a product of
factors whose axes carry index labels, plus the labels of the output and input axes. A label on
both sides is a Kronecker delta, so ``dz/dW`` for ``z = W a`` is the single factor ``a[j]`` with
output ``i`` and input ``i, j``: ``dz_i/dW_kj = delta_ik a_j``. Most derivatives are one term;
the chain rule and the sum rule make sums (softmax's ``delta_ij p_i - p_i p_j``, a residual
block's ``I + J_f``). Nothing is multiplied out until a number is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from numbers import Real

import numpy as np

from ..errors import ShapeMismatchError, TensorcalcError
from . import html as _html
from . import layout as _layout
from . import matrix as _matrix
from . import render as _render
from .contract import contract_terms, einsum_spec
from .labels import fresh_labels, kind_name
from .limits import check_dense_size
from .term import (
    Factor,
    Term,
    canonical_sum,
    join,
    meet,
    rename_apart,
    structure_name,
    support_size,
    value_axes,
)
from .validate import _trusted, as_float_array, readonly


class Derivative:
    """A derivative tensor d``of``/d``wrt``, stored as a sum of einsum networks.

    Most users build one with :meth:`from_array`, get one from a primitive's ``derivative``
    method, or from :func:`tensorcalc.chain`. The constructor takes one network (one term):
    factors, output labels, input labels and the size of each label; ``+``, ``-`` and scalar
    ``*`` build sums.

    >>> import numpy as np
    >>> import tensorcalc as tc
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> factors = [tc.Factor(a, "j", "a")]
    >>> dz_dW = tc.Derivative(factors, "i", "ij", {"i": 4, "j": 3}, of="z", wrt="W")
    >>> dz_dW.kind, dz_dW.shape
    ('vector-by-matrix', (4, 4, 3))
    >>> float(dz_dW.dense()[1, 1, 2]), float(dz_dW.dense()[0, 1, 2])
    (3.0, 0.0)
    >>> (dz_dW - 2 * dz_dW).dense()[1, 1, 2].item()
    -3.0
    """

    __slots__ = ("terms", "sizes", "of", "wrt", "_dtype", "__dict__")

    def __init__(self, factors: Sequence[Factor], out_labels: str, in_labels: str,
                 sizes: Mapping[str, int], of: str = "y", wrt: str = "x", *,
                 _checked: bool = False, _dtype=None) -> None:
        term = Term(tuple(factors), "".join(out_labels), "".join(in_labels))
        if not (_checked or _trusted.get()):
            term, sizes = _validated(term, sizes)
        _set(self, (term,), sizes, of, wrt, _dtype)

    @classmethod
    def _make(cls, terms: Sequence[Term], sizes: Mapping[str, int], of: str, wrt: str,
              dtype=None) -> Derivative:
        """Internal: a derivative from terms whose labels are already canonical."""
        d = cls.__new__(cls)
        _set(d, tuple(terms), sizes, of, wrt, dtype)
        return d

    def __setattr__(self, name, value):
        raise AttributeError(f"a Derivative is immutable; cannot set {name!r}.")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_array(cls, array: object, out_shape: Sequence[int], in_shape: Sequence[int], *,
                   of: str = "y", wrt: str = "x") -> Derivative:
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
        return cls._wrap(readonly(np.array(arr)), out_shape, in_shape, of, wrt)

    @classmethod
    def _wrap(cls, array: np.ndarray, out_shape: tuple, in_shape: tuple, of: str,
              wrt: str) -> Derivative:
        """Internal: a dense derivative around a fresh, checked array (no copy)."""
        labels = "".join(fresh_labels(array.ndim))
        k = len(out_shape)
        return cls((Factor(readonly(array), labels, f"d{of}/d{wrt}"),), labels[:k], labels[k:],
                   dict(zip(labels, array.shape)), of, wrt, _checked=True)

    @classmethod
    def from_layout(cls, array: object, layout: str, out_shape: Sequence[int],
                    in_shape: Sequence[int], *, of: str = "y", wrt: str = "x") -> Derivative:
        """Inverse of :meth:`to_layout`: read an array given in ``layout``."""
        arr = as_float_array(array, "array")
        canonical = _layout.from_layout(arr, layout, tuple(out_shape), tuple(in_shape))
        return cls.from_array(canonical, out_shape, in_shape, of=of, wrt=wrt)

    @classmethod
    def identity(cls, shape: Sequence[int], *, of: str = "x", wrt: str = "x",
                 dtype=np.float64) -> Derivative:
        """dx/dx for x of ``shape``: every label a delta, no factor."""
        labels = "".join(fresh_labels(len(shape)))
        return cls((), labels, labels, dict(zip(labels, shape)), of, wrt, _checked=True,
                   _dtype=np.dtype(dtype))

    def term(self, k: int) -> Derivative:
        """The ``k``-th term alone, as a derivative of the same variables.

        >>> import numpy as np, tensorcalc as tc
        >>> J = tc.softmax.derivative(np.zeros(2))
        >>> J.term(1).index_notation()
        'dp_i/dz_j = -p_i p_j'
        """
        return Derivative._make((self.terms[k],), _used([self.terms[k]], self.sizes), self.of,
                                self.wrt, self._dtype or self.dtype)

    # ------------------------------------------------------------------ the first term
    @property
    def factors(self) -> tuple[Factor, ...]:
        """The factors of every term, in the order of :attr:`spec`."""
        if len(self.terms) == 1:
            return self.terms[0].factors
        return tuple(f for t in self.terms for f in t.factors)

    @property
    def out_labels(self) -> str:
        """Labels of the output axes (of the first term, for a sum)."""
        return self.terms[0].out_labels

    @property
    def in_labels(self) -> str:
        """Labels of the input axes (of the first term, for a sum: see :attr:`terms`)."""
        return self.terms[0].in_labels

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
        arrays = [f.array.dtype for t in self.terms for f in t.factors]
        if not arrays:
            return np.dtype(self._dtype or np.float64)
        return np.result_type(*arrays)

    @property
    def deltas(self) -> str:
        """Labels that stand on both the output and the input side (Kronecker deltas; for a
        sum, the deltas that every term shares)."""
        out, inp = self._pattern
        return "".join(c for c in dict.fromkeys(out) if c in inp)

    @property
    def nbytes_dense(self) -> int:
        """Bytes the full canonical tensor takes."""
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def structural_zero_fraction(self) -> float:
        """Fraction of dense entries that are zero by structure (off every term's deltas)."""
        total = math.prod(self.shape)
        return 0.0 if total == 0 else 1.0 - support_size(self.terms, self.sizes) / total

    @property
    def structure(self) -> str:
        """'dense', 'diagonal', '1 delta', 'factored', 'identity', or for a sum
        'sum of 2 terms: diagonal + dense'."""
        names = [structure_name(t) for t in self.terms]
        if len(names) == 1:
            return names[0]
        return f"sum of {len(names)} terms: " + " + ".join(names)

    # ------------------------------------------------------------------ numbers
    @cached_property
    def _axes(self) -> tuple[int, ...]:
        return value_axes(self.terms)

    @cached_property
    def _letters(self) -> str:
        """One letter per axis: the letter of the first term in which that axis is the first
        of its delta class (canonical sums agree on it)."""
        letters = []
        for k in range(len(self.terms[0].axis_labels)):
            for t in self.terms:
                labels = t.axis_labels
                if labels.index(labels[k]) == k:
                    letters.append(labels[k])
                    break
            else:
                letters.append(self.terms[0].axis_labels[k])
        return "".join(letters)

    @cached_property
    def _pattern(self) -> tuple[str, str]:
        """Output and input labels of the finest pattern every term fits (the sum's deltas)."""
        if len(self.terms) == 1:
            return self.out_labels, self.in_labels
        labels = "".join(self._letters[r] for r in meet(self.terms))
        k = len(self.out_labels)
        return labels[:k], labels[k:]

    @property
    def result_labels(self) -> str:
        """Labels of the compact value: one per axis class that some factor carries."""
        return "".join(self._letters[r] for r in self._axes)

    @property
    def specs(self) -> tuple[str, ...]:
        """One einsum string per term, each to that term's labels on the compact axes (an
        axis the term is constant along is left out: it is broadcast when added)."""
        specs = []
        for t in self.terms:
            target = dict.fromkeys(t.axis_labels[r] for r in self._axes)
            specs.append(einsum_spec([f.labels for f in t.factors],
                                     "".join(c for c in target if c in t.factor_labels)))
        return tuple(specs)

    @property
    def spec(self) -> str:
        """The einsum string that computes the compact value, e.g. ``'ni,ni,nj->ij'`` (terms
        of a sum joined by ``' + '``)."""
        return " + ".join(self.specs)

    @property
    def operands(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(symbol, labels, shape)`` of each factor, in the order of :attr:`spec`."""
        return [(f.symbol, f.labels, tuple(f.array.shape)) for f in self.factors]

    @cached_property
    def compact(self) -> np.ndarray:
        """The contracted value over :attr:`result_labels` (deltas not expanded); each term is
        contracted along its own path and the results added."""
        arr = contract_terms(self.terms, self._axes, self.sizes, self.dtype)
        return readonly(arr)

    def contracted(self, symbol: str | None = None) -> Derivative:
        """The same derivative as one factor (the terms multiplied out and added), its deltas
        kept as labels."""
        factor = Factor(self.compact, self.result_labels, symbol or f"d{self.of}/d{self.wrt}")
        out, inp = self._pattern
        sizes = {c: self.sizes[c] for c in out + inp}
        return Derivative((factor,), out, inp, sizes, self.of, self.wrt, _checked=True,
                          _dtype=self.dtype)

    def check_dense_size(self, max_bytes: int | None = None) -> None:
        """Raise :class:`MemoryLimitError` if the dense tensor is above the limit."""
        check_dense_size(self, max_bytes)

    def dense(self, max_bytes: int | None = None) -> np.ndarray:
        """The full tensor in canonical layout, deltas expanded with identity matrices."""
        self.check_dense_size(max_bytes)
        axes = tuple(range(len(self.shape)))
        return contract_terms(self.terms, axes, self.sizes, self.dtype).reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        arr = self.dense()
        return arr if dtype is None else arr.astype(dtype)

    def to_layout(self, layout: str) -> np.ndarray:
        """The dense tensor in ``'canonical'``, ``'numerator'`` or ``'denominator'`` layout."""
        _layout.check_layout(layout)
        return _layout.to_layout(self.dense(), layout, self.out_shape, self.in_shape)

    # ------------------------------------------------------------------ sums and chains
    def __add__(self, other: object) -> Derivative:
        if isinstance(other, Real) and other == 0:
            return self
        if not isinstance(other, Derivative):
            return NotImplemented
        if (self.out_shape, self.in_shape) != (other.out_shape, other.in_shape):
            raise ShapeMismatchError(
                f"cannot add {describe(self)} and {describe(other)}: a sum needs the same "
                f"output and input shapes.")
        mapping = rename_apart(list(other.sizes), set(self.sizes))
        sizes = dict(self.sizes)
        sizes.update({mapping.get(c, c): n for c, n in other.sizes.items()})
        terms = canonical_sum(self.terms + tuple(t.relabel(mapping) for t in other.terms), sizes)
        dtype = np.result_type(self.dtype, other.dtype)
        return Derivative._make(terms, _used(terms, sizes), self.of, self.wrt, dtype)

    __radd__ = __add__

    def __mul__(self, c: object) -> Derivative:
        if not isinstance(c, Real) or isinstance(c, bool):
            return NotImplemented
        terms = tuple(t.scaled(float(c)) for t in self.terms)
        return Derivative._make(terms, self.sizes, self.of, self.wrt, self._dtype)

    __rmul__ = __mul__

    def __neg__(self) -> Derivative:
        return -1 * self

    def __sub__(self, other: object) -> Derivative:
        if not isinstance(other, Derivative):
            return NotImplemented
        return self + (-other)

    def __matmul__(self, other: Derivative) -> Derivative:
        return compose(self, other)

    # ------------------------------------------------------------------ display
    @property
    def index_letters(self) -> tuple[str, str]:
        """The index letters of the output and input axes as the formulas write them (a
        delta's input side gets a fresh letter: ``dz_i/dW_kj``)."""
        taken = {c for t in self.terms for c in t.axis_labels} | {
            c for t in self.terms for c in t.factor_labels}
        letters = _render.axis_letters(self._letters, taken)
        k = len(self.out_labels)
        return letters[:k], letters[k:]

    def _term_data(self):
        return [(t.coef, t.out_labels, t.in_labels, [(f.symbol, f.labels) for f in t.factors])
                for t in self.terms]

    def index_notation(self) -> str:
        """The entry formula in index notation, e.g. ``dz_i/dW_kj = a_j delta_ik``."""
        return _render.index_notation(self.of, self.wrt, self._letters, self._term_data())

    def latex(self) -> str:
        """The entry formula as LaTeX (see :meth:`index_notation`)."""
        return _render.latex(self.of, self.wrt, self._letters, self._term_data())

    def matrix_notation(self) -> str | None:
        """The contraction in matrix notation (``W^2T delta^2``, ``delta a^T``, ``x (.) y``,
        ``diag(p) - p p^T``) when it is made of matrix products, transposes, outer and Hadamard
        products; else None."""
        terms = []
        for t in self.terms:
            target = "".join(t.axis_labels[r] for r in self._axes)
            if len(set(target)) < len(target) and not (len(target) == 2 and t.out_labels):
                return None
            terms.append((t.coef, [(f.symbol, f.labels) for f in t.factors], target))
        return _matrix.sum_notation(terms)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_html_(self) -> str:
        return _html.derivative_html(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def __repr__(self) -> str:
        def factors(t: Term) -> str:
            return " ".join(f"{f.symbol}[{f.labels}]" for f in t.factors) or "(none)"

        if len(self.terms) == 1:
            t = self.terms[0]
            body = (f"labels {t.out_labels or '-'}|{t.in_labels or '-'}; "
                    f"factors {factors(t)}")
        else:
            body = "terms " + " ".join(
                f"{'-' if t.coef < 0 else '+'}{'' if abs(t.coef) == 1 else f'{abs(t.coef):g}*'}"
                f"[{t.out_labels or '-'}|{t.in_labels or '-'}: {factors(t)}]"
                for t in self.terms)
        zeros = self.structural_zero_fraction
        return (f"<Derivative {self.kind} d{self.of}/d{self.wrt}: out {self.out_shape} "
                f"in {self.in_shape}, {self.structure}, {self.nbytes_dense:,} B when dense "
                f"({zeros:.0%} structural zeros); {body}>")


def _set(d: Derivative, terms, sizes, of, wrt, dtype) -> None:
    object.__setattr__(d, "terms", terms)
    object.__setattr__(d, "sizes", sizes)
    object.__setattr__(d, "of", of)
    object.__setattr__(d, "wrt", wrt)
    object.__setattr__(d, "_dtype", dtype)


def _used(terms: Sequence[Term], sizes: Mapping[str, int]) -> dict[str, int]:
    used = set().union(*(set(t.axis_labels) | t.factor_labels for t in terms))
    return {c: n for c, n in sizes.items() if c in used}


def _validated(term: Term, sizes: Mapping[str, int]) -> tuple[Term, dict[str, int]]:
    """Check a user-built term; return it with read-only copies of its arrays."""
    sizes = {k: int(v) for k, v in sizes.items()}
    for f in term.factors:
        if not isinstance(f, Factor):
            raise TensorcalcError(f"factors must be tc.Factor(array, labels, symbol); got "
                                  f"{type(f).__name__}.")
    labels = term.axis_labels + "".join(f.labels for f in term.factors)
    bad = sorted({c for c in labels if not c.isalpha()})
    if bad:
        raise TensorcalcError(f"index labels must be single letters; got {bad}.")
    if any(n < 0 for n in sizes.values()):
        raise TensorcalcError(f"label sizes must be >= 0; got {sizes}.")
    for label in term.axis_labels:
        if label not in sizes:
            raise TensorcalcError(f"label {label!r} has no size; sizes are {sizes}.")
    factors = []
    for f in term.factors:
        arr = as_float_array(f.array, f"factor {f.symbol}")
        if arr.ndim != len(f.labels):
            raise TensorcalcError(f"factor {f!r} must be a Factor with one label per axis "
                                  f"(got {len(f.labels)} labels).")
        for label, n in zip(f.labels, arr.shape):
            if sizes.get(label, n) != n:
                raise ShapeMismatchError(
                    f"factor {f.symbol} has size {n} on label {label!r}, "
                    f"but the label has size {sizes[label]} elsewhere.")
            sizes.setdefault(label, n)
        # our own read-only copy: later changes to the caller's array cannot reach us
        factors.append(Factor(readonly(np.array(arr)), f.labels, f.symbol))
    term = Term(tuple(factors), term.out_labels, term.in_labels)
    return term, _used([term], sizes)


def describe(d: Derivative) -> str:
    """``dz/da (jacobian, out (4,), in (3,))``: how errors name a derivative."""
    return f"d{d.of}/d{d.wrt} ({d.kind}, out {d.out_shape}, in {d.in_shape})"


def require_derivative(d: object, name: str) -> None:
    if not isinstance(d, Derivative):
        raise TensorcalcError(
            f"chain() takes Derivative objects; the {name} argument is a {type(d).__name__}. "
            f"Wrap arrays with tc.Derivative.from_array(arr, out_shape=..., in_shape=...)."
        )


def _check_fit(outer: Derivative, inner: Derivative) -> None:
    require_derivative(outer, "outer")
    require_derivative(inner, "inner")
    if outer.in_shape == inner.out_shape:
        return
    hint = ""
    if inner.in_shape == outer.out_shape:
        hint = " The reverse order fits: chain() takes the outermost derivative first."
    raise ShapeMismatchError(
        f"cannot chain {describe(outer)} with {describe(inner)}: the outer derivative's input "
        f"shape {outer.in_shape} must equal the inner derivative's output shape "
        f"{inner.out_shape}. An inner derivative of something of shape {outer.in_shape} "
        f"would fit.{hint}"
    )


def compose(outer: Derivative, inner: Derivative) -> Derivative:
    """d(outer.of)/d(inner.wrt): every term of ``outer`` joined with every term of ``inner``
    (the chain rule distributes over sums). Nothing is contracted."""
    _check_fit(outer, inner)
    mapping = rename_apart(list(inner.sizes), set(outer.sizes))
    sizes = dict(outer.sizes)
    sizes.update({mapping.get(c, c): n for c, n in inner.sizes.items()})
    dtype = np.result_type(outer.dtype, inner.dtype)
    inner_terms = [t.relabel(mapping) for t in inner.terms] if mapping else inner.terms
    terms = [join(a, b, sizes, dtype) for a in outer.terms for b in inner_terms]
    if len(terms) > 1:
        terms = canonical_sum(terms, sizes)
    return Derivative._make(tuple(terms), _used(terms, sizes), outer.of, inner.wrt, dtype)
