"""Label algebra on terms: the chain rule (join), sums (canonical letters), and the finest
pattern all terms of a sum fit. Labels and shapes only: no array is multiplied here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .labels import fresh_labels
from .term import Factor, Term, first_positions
from .validate import readonly


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
    relations = tuple(r.relabel({c: find(c) for c in r.labels})
                      for r in outer.relations + inner.relations)
    out_labels, in_labels = sub(outer.out_labels), sub(inner.in_labels)
    used = ({c for f in factors for c in f.labels} | {c for r in relations for c in r.labels}
            | set(out_labels) | set(in_labels))
    for c in sorted({find(c) for c in outer.in_labels} - used):
        factors.append(ones_sum(sizes[c], dtype))
    return Term(tuple(factors), out_labels, in_labels, outer.coef * inner.coef, relations)


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


def used_sizes(terms: Sequence[Term], sizes: Mapping[str, int]) -> dict[str, int]:
    """``sizes`` of the labels that ``terms`` use."""
    used = set().union(*(set(t.axis_labels) | t.factor_labels for t in terms))
    return {c: n for c, n in sizes.items() if c in used}


def compose_terms(outer: Sequence[Term], outer_sizes: Mapping[str, int], inner: Sequence[Term],
                  inner_sizes: Mapping[str, int], dtype) -> tuple[tuple[Term, ...], dict]:
    """The chain rule distributed over sums: every outer term joined with every inner term
    (inner labels renamed apart first); the terms and their label sizes."""
    mapping = rename_apart(list(inner_sizes), set(outer_sizes))
    sizes = dict(outer_sizes)
    sizes.update({mapping.get(c, c): n for c, n in inner_sizes.items()})
    inner = [t.relabel(mapping) for t in inner] if mapping else inner
    terms = [join(a, b, sizes, dtype) for a in outer for b in inner]
    if len(terms) > 1:
        terms = canonical_sum(terms, sizes)
    return tuple(terms), used_sizes(terms, sizes)


def add_terms(first: Sequence[Term], first_sizes: Mapping[str, int], second: Sequence[Term],
              second_sizes: Mapping[str, int]) -> tuple[tuple[Term, ...], dict]:
    """The terms of a sum of two derivatives of the same shapes, in shared letters."""
    mapping = rename_apart(list(second_sizes), set(first_sizes))
    sizes = dict(first_sizes)
    sizes.update({mapping.get(c, c): n for c, n in second_sizes.items()})
    terms = canonical_sum(tuple(first) + tuple(t.relabel(mapping) for t in second), sizes)
    return terms, used_sizes(terms, sizes)
