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

import numpy as np

from ..errors import ShapeMismatchError
from .access import Access
from .algebra import meet, used_sizes, value_axes
from .arithmetic import Arithmetic
from .contract import einsum_spec
from .display import Rendered
from .evaluate import contract_terms, structural_zero_fraction
from .labels import derivative_name, fresh_labels, kind_name
from .limits import check_dense_size
from .term import Factor, Term, structure_name, validated
from .validate import _trusted, as_float_array, readonly


class Derivative(Access, Arithmetic, Rendered):
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
            term, sizes = validated(term, sizes)
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
        return Derivative._make((self.terms[k],), used_sizes([self.terms[k]], self.sizes), self.of,
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
    def name(self) -> str:
        """``dy/dx`` (``d2C/dW^1 dW^1`` for a Hessian block)."""
        return derivative_name(self.of, self.wrt)

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
        """Fraction of dense entries that are zero by structure (off every term's deltas and,
        for a layer small enough to count, off its index relations)."""
        return structural_zero_fraction(self.terms, self.sizes, self.shape)

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
            specs.append(einsum_spec([f.labels for f in t.factors]
                                     + [r.labels for r in t.relations],
                                     "".join(c for c in target if c in t.factor_labels)))
        return tuple(specs)

    @property
    def spec(self) -> str:
        """The einsum string that computes the compact value, e.g. ``'ni,ni,nj->ij'`` (terms
        of a sum joined by ``' + '``)."""
        return " + ".join(self.specs)

    @property
    def operands(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(symbol, labels, shape)`` of each factor, in the order of :attr:`spec` (a relation
        counts as an operand ``[i = 2o + k - 1]`` there)."""
        return [op for t in self.terms for op in
                [(f.symbol, f.labels, tuple(f.array.shape)) for f in t.factors]
                + [(f"[{r.text()}]", r.labels, tuple(self.sizes[c] for c in r.labels))
                   for r in t.relations]]

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



def _set(d: Derivative, terms, sizes, of, wrt, dtype) -> None:
    object.__setattr__(d, "terms", terms)
    object.__setattr__(d, "sizes", sizes)
    object.__setattr__(d, "of", of)
    object.__setattr__(d, "wrt", wrt)
    object.__setattr__(d, "_dtype", dtype)
