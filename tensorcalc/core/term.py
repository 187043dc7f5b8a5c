"""Terms of a derivative: one einsum network each, and the label algebra on them.

A term is a coefficient times a product of labelled factors, with the labels of its output axes
and of its input axes. A label on both sides is a Kronecker delta. A derivative is a sum of terms
over the same axes; the terms of one sum may tie different axes by deltas (softmax's Jacobian
``delta_ij p_i - p_i p_j`` has a diagonal term and a dense one). Everything here works on labels
and shapes only: joining two terms for the chain rule, renaming, and finding the label pattern
that every term of a sum fits into. No array is multiplied here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeMismatchError, TensorcalcError
from .validate import as_float_array, readonly


@dataclass(frozen=True)
class Factor:
    """One array of a derivative network, its axis labels and the symbol it is shown as."""

    array: np.ndarray
    labels: str
    symbol: str

    def __repr__(self) -> str:
        return f"{self.symbol}[{','.join(self.labels)}] {tuple(self.array.shape)}"


@dataclass(frozen=True)
class Relation:
    """An index relation ``[inp = c_1 l_1 + c_2 l_2 + ... + offset]``: a 0/1 pattern tying a
    position ``inp`` to an affine combination of other labels. A convolution's or pooling
    window's relation is ``i = s*o + d*k - p`` (one per spatial axis, see :meth:`window`); a
    flatten's is ``f = (H W) c + W h + w``. It is kept as labels and numbers, never stored as a
    tensor: contraction lowers it to a strided view or a strided accumulation."""

    inp: str
    parts: tuple[tuple[str, int], ...]
    offset: int = 0

    @classmethod
    def window(cls, inp: str, out: str, tap: str, stride: int = 1, dilation: int = 1,
               padding: int = 0) -> Relation:
        """``[inp = stride*out + dilation*tap - padding]``."""
        return cls(inp, ((out, stride), (tap, dilation)), -padding)

    @property
    def labels(self) -> str:
        return "".join(c for c, _ in self.parts) + self.inp

    def relabel(self, mapping: Mapping[str, str]) -> Relation:
        get = mapping.get
        return Relation(get(self.inp, self.inp),
                        tuple((get(c, c), k) for c, k in self.parts), self.offset)

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """``i = 2o + k - 1`` in the given letters."""
        n = names or {}
        terms = [f"{'' if k == 1 else k}{n.get(c, c)}" for c, k in self.parts]
        shift = f" - {-self.offset}" if self.offset < 0 else (
            f" + {self.offset}" if self.offset else "")
        return f"{n.get(self.inp, self.inp)} = " + " + ".join(terms) + shift


@dataclass(frozen=True, eq=False)
class Lookup:
    """A selection ``[inp = X[parts]]``: position ``inp`` (a table row) is the integer data
    ``indices`` at the other labels (an embedding's ``C[X]``). Kept as the indices, never as a
    one-hot tensor: contraction gathers (``np.take``) or scatters (``np.add.at``)."""

    inp: str
    parts: tuple[tuple[str, int], ...]
    indices: np.ndarray
    symbol: str = "X"

    @property
    def labels(self) -> str:
        return "".join(c for c, _ in self.parts) + self.inp

    def relabel(self, mapping: Mapping[str, str]) -> Lookup:
        get = mapping.get
        return Lookup(get(self.inp, self.inp), tuple((get(c, c), k) for c, k in self.parts),
                      self.indices, self.symbol)

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """``v = X_nt`` in the given letters."""
        n = names or {}
        at = "".join(n.get(c, c) for c, _ in self.parts)
        return f"{n.get(self.inp, self.inp)} = {self.symbol}_{at}"


@dataclass(frozen=True)
class Term:
    """``coef`` times the product of ``factors`` and window ``relations``, indexed by
    ``out_labels`` then ``in_labels``."""

    factors: tuple[Factor, ...]
    out_labels: str
    in_labels: str
    coef: float = 1.0
    relations: tuple[Relation, ...] = ()

    @property
    def axis_labels(self) -> str:
        return self.out_labels + self.in_labels

    @property
    def factor_labels(self) -> set[str]:
        """Labels that some factor or relation carries."""
        return {c for f in self.factors for c in f.labels} | {
            c for r in self.relations for c in r.labels}

    def relabel(self, mapping: Mapping[str, str]) -> Term:
        def sub(labels: str) -> str:
            return "".join(mapping.get(c, c) for c in labels)

        factors = tuple(Factor(f.array, sub(f.labels), f.symbol) for f in self.factors)
        return Term(factors, sub(self.out_labels), sub(self.in_labels), self.coef,
                    tuple(r.relabel(mapping) for r in self.relations))

    def scaled(self, c: float) -> Term:
        return Term(self.factors, self.out_labels, self.in_labels, self.coef * c,
                    self.relations)

    def operand_arrays(self) -> list:
        """The arrays a contraction of this term reads: its factors, then the index data of
        its lookups."""
        return [f.array for f in self.factors] + [r.indices for r in self.relations
                                                  if isinstance(r, Lookup)]


def first_positions(labels: str) -> tuple[int, ...]:
    """For each axis, the first axis with the same label: axes tied by a delta share it."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(c, k) for k, c in enumerate(labels))


def structure_name(term: Term) -> str:
    """'identity', 'diagonal', 'N deltas', 'dense' (one factor) or 'factored'."""
    deltas = [c for c in dict.fromkeys(term.out_labels) if c in term.in_labels]
    if not term.factors and term.out_labels == term.in_labels:
        return "identity"
    n = len(deltas)
    if n and term.out_labels == term.in_labels and len(set(term.out_labels)) == n:
        return "diagonal"
    windows = (f", {len(term.relations)} window relation"
               f"{'s' if len(term.relations) > 1 else ''}") if term.relations else ""
    if n:
        return f"{n} delta{'s' if n > 1 else ''}{windows}"
    return ("dense" if len(term.factors) == 1 else "factored") + windows


def support_size(terms: Sequence[Term], sizes: Mapping[str, int], limit: int = 12) -> int:
    """How many dense entries some term can make non-zero: the size of the union of the terms'
    delta patterns, by inclusion and exclusion over distinct patterns (an upper bound, the
    full size, beyond ``limit`` distinct patterns)."""
    axes = terms[0].axis_labels
    dims = [sizes[c] for c in axes]
    patterns = list(dict.fromkeys(first_positions(t.axis_labels) for t in terms))
    if len(patterns) > limit:
        return math.prod(dims)
    total = 0
    for r in range(1, len(patterns) + 1):
        for subset in itertools.combinations(patterns, r):
            total += (-1) ** (r + 1) * math.prod(dims[k] for k in _joined_roots(subset))
    return total


def _joined_roots(patterns) -> set[int]:
    """One axis per class of the coarsest pattern that ties what any of ``patterns`` ties."""
    parent = list(range(len(patterns[0])))

    def find(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for pattern in patterns:
        for k, f in enumerate(pattern):
            parent[find(k)] = find(f)
    return {find(k) for k in range(len(parent))}


def validated(term: Term, sizes: Mapping[str, int]) -> tuple[Term, dict[str, int]]:
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
    return term, {c: n for c, n in sizes.items() if c in set(term.axis_labels) | term.factor_labels}
