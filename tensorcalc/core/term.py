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

from .labels import fresh_labels
from .validate import readonly


@dataclass(frozen=True)
class Factor:
    """One array of a derivative network, its axis labels and the symbol it is shown as."""

    array: np.ndarray
    labels: str
    symbol: str

    def __repr__(self) -> str:
        return f"{self.symbol}[{','.join(self.labels)}] {tuple(self.array.shape)}"


@dataclass(frozen=True)
class Term:
    """``coef`` times the product of ``factors``, indexed by ``out_labels`` then ``in_labels``."""

    factors: tuple[Factor, ...]
    out_labels: str
    in_labels: str
    coef: float = 1.0

    @property
    def axis_labels(self) -> str:
        return self.out_labels + self.in_labels

    @property
    def factor_labels(self) -> set[str]:
        return {c for f in self.factors for c in f.labels}

    def relabel(self, mapping: Mapping[str, str]) -> Term:
        def sub(labels: str) -> str:
            return "".join(mapping.get(c, c) for c in labels)

        factors = tuple(Factor(f.array, sub(f.labels), f.symbol) for f in self.factors)
        return Term(factors, sub(self.out_labels), sub(self.in_labels), self.coef)

    def scaled(self, c: float) -> Term:
        return Term(self.factors, self.out_labels, self.in_labels, self.coef * c)


def first_positions(labels: str) -> tuple[int, ...]:
    """For each axis, the first axis with the same label: axes tied by a delta share it."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(c, k) for k, c in enumerate(labels))


def join(outer: Term, inner: Term, sizes: Mapping[str, int], dtype) -> Term:
    """The chain rule on two terms whose labels are already apart: the input labels of
    ``outer`` are identified with the output labels of ``inner`` (and so summed over).

    A summed label that no factor carries contributes ``sum_k 1``, its size: it is kept as a
    scalar factor so that the formula shows it. ``sizes`` holds the labels of both sides
    (identified labels have equal sizes, checked by the caller)."""
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    order = {c: k for k, c in enumerate(outer.out_labels + outer.in_labels)}
    for a, b in zip(outer.in_labels, inner.out_labels):
        ra, rb = find(a), find(b)
        if ra != rb:
            keep, drop = sorted((ra, rb), key=lambda c: order.get(c, len(order)))
            parent[drop] = keep

    def sub(labels: str) -> str:
        return "".join(find(c) for c in labels)

    factors = [Factor(f.array, sub(f.labels), f.symbol) for f in outer.factors + inner.factors]
    out_labels, in_labels = sub(outer.out_labels), sub(inner.in_labels)
    used = {c for f in factors for c in f.labels} | set(out_labels) | set(in_labels)
    for c in sorted({find(c) for c in outer.in_labels} - used):
        factors.append(ones_sum(sizes[c], dtype))
    return Term(tuple(factors), out_labels, in_labels, outer.coef * inner.coef)


def ones_sum(n: int, dtype) -> Factor:
    """The scalar factor ``n`` that a summed label carried by no factor contributes."""
    return Factor(readonly(np.asarray(float(n), dtype=dtype)), "", f"{n}")


def rename_apart(labels: Sequence[str], taken: set[str]) -> dict[str, str]:
    """A renaming of ``labels`` that avoids ``taken`` (labels not in ``taken`` stay)."""
    taken = set(taken)
    mapping = {}
    for c in labels:
        if c in taken:
            (mapping[c],) = fresh_labels(1, taken | set(labels))
            taken.add(mapping[c])
        else:
            taken.add(c)
    return mapping


def canonical_sum(terms: Sequence[Term], sizes: dict[str, int]) -> tuple[Term, ...]:
    """Relabel the terms of one sum so that they share axis letters.

    Each axis gets one letter: the first term's where that axis is the first with its label,
    a fresh one where the first term ties it to an earlier axis by a delta. Every other term
    then uses, on each axis, the letter of the first axis of its own delta class, and fresh
    letters for its summed labels. ``sizes`` gains the new letters."""
    first = terms[0]
    axes = first.axis_labels
    taken = set(sizes) | set(axes) | {c for t in terms for c in t.factor_labels}
    letters = []
    seen: set[str] = set()
    for c in axes:
        if c in seen:
            (new,) = fresh_labels(1, taken)
            taken.add(new)
            sizes[new] = sizes[c]
            letters.append(new)
        else:
            seen.add(c)
            letters.append(c)
    out = [first]
    for t in terms[1:]:
        mapping: dict[str, str] = {}
        for k, c in enumerate(t.axis_labels):
            mapping.setdefault(c, letters[k])
        for c in sorted(t.factor_labels - set(t.axis_labels)):
            (new,) = fresh_labels(1, taken)
            taken.add(new)
            sizes[new] = sizes[c]
            mapping[c] = new
        out.append(t.relabel(mapping))
    return tuple(out)


def meet(terms: Sequence[Term]) -> tuple[int, ...]:
    """For each axis, the first axis tied to it in every term (the finest pattern that all
    terms fit: an axis pair is a delta of the sum only when it is one in each term)."""
    firsts = [first_positions(t.axis_labels) for t in terms]
    rep: dict[tuple[int, ...], int] = {}
    return tuple(rep.setdefault(tuple(f[k] for f in firsts), k) for k in range(len(firsts[0])))


def value_axes(terms: Sequence[Term]) -> tuple[int, ...]:
    """The axes (one per class of :func:`meet`) that the contracted value of the sum keeps:
    those that some term's factors carry or that some term ties to another kept class. An
    axis along which every term is constant is left out (broadcast when expanded)."""
    reps = meet(terms)
    distinct = list(dict.fromkeys(reps))
    keep = []
    for r in distinct:
        for t in terms:
            labels = t.axis_labels
            c = labels[r]
            tied = any(labels[s] == c for s in distinct if s != r)
            if c in t.factor_labels or tied:
                keep.append(r)
                break
    return tuple(keep)


def structure_name(term: Term) -> str:
    """'identity', 'diagonal', 'N deltas', 'dense' (one factor) or 'factored'."""
    deltas = [c for c in dict.fromkeys(term.out_labels) if c in term.in_labels]
    if not term.factors and term.out_labels == term.in_labels:
        return "identity"
    n = len(deltas)
    if n and term.out_labels == term.in_labels and len(set(term.out_labels)) == n:
        return "diagonal"
    if n:
        return f"{n} delta{'s' if n > 1 else ''}"
    return "dense" if len(term.factors) == 1 else "factored"


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
