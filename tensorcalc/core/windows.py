"""Contracting a term with index relations (``[i = s*o + d*k - p]``) without building them.

A relation whose input position ``i`` is summed is lowered to a strided view of the one factor
that carries ``i`` (im2col as a view: the axis ``i`` becomes the axes ``o, k``, no copy beyond the
padding). A relation whose ``i`` is kept in the result is applied last as a strided accumulation
(col2im): the rest is contracted to labels ``o, k`` in place of ``i`` (a factor that carries
``i`` too is read through the same view) and added into ``i``. Only
a relation that neither applies to (a chain of relations, or ``dense()`` asking for ``o`` and
``i`` together) is expanded to its 0/1 pattern, which has O*K*I entries for one spatial axis.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .contract import ascii_spec, compiled, full_operands
from .term import Lookup, Relation, Term


def _span(r: Relation, sizes: Mapping[str, int]) -> int:
    """The largest value of the affine combination, before the offset."""
    return sum(k * (sizes[c] - 1) for c, k in r.parts)


def window_view(x: np.ndarray, axis: int, r: Relation, sizes: Mapping[str, int],
                indices=None) -> np.ndarray:
    """``x`` with its ``axis`` (positions ``inp``) replaced by the axes of ``r``'s parts:
    ``x[..., sum_j c_j l_j + offset]``, zero where that falls outside ``x`` (a lookup gathers
    ``x[..., X[parts], ...]``)."""
    if indices is not None:
        return np.take(x, indices, axis=axis)
    n_in = x.shape[axis]
    left = max(0, -r.offset)
    right = max(0, r.offset + _span(r, sizes) - (n_in - 1))
    if left or right:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (left, right)
        x = np.pad(x, widths)
    start = r.offset + left
    if start:
        x = x[(slice(None),) * axis + (slice(start, None),)]
    st = x.strides
    shape = x.shape[:axis] + tuple(sizes[c] for c, _ in r.parts) + x.shape[axis + 1:]
    strides = st[:axis] + tuple(k * st[axis] for _, k in r.parts) + st[axis + 1:]
    return as_strided(x, shape, strides, writeable=False)


def accumulate(t: np.ndarray, axis: int, r: Relation, n_in: int, indices=None) -> np.ndarray:
    """``t`` with the axes of ``r``'s parts (from ``axis`` on, in order) added into positions
    ``inp`` (a reshape where the parts tile ``inp`` exactly, as a flatten's do; a lookup
    scatter-adds with ``np.add.at``)."""
    m = len(r.parts)
    if indices is not None:
        moved = np.moveaxis(t, tuple(range(axis, axis + m)), tuple(range(m)))
        out = np.zeros((n_in,) + moved.shape[m:], dtype=t.dtype)
        np.add.at(out, indices, moved)
        return np.moveaxis(out, 0, axis)
    t = np.moveaxis(t, tuple(range(axis, axis + m)), tuple(range(-m, 0)))
    dims = t.shape[-m:]
    strides = [int(np.prod(dims[j + 1:])) for j in range(m)]
    if r.offset == 0 and [k for _, k in r.parts] == strides and int(np.prod(dims)) == n_in:
        out = t.reshape(t.shape[:-m] + (n_in,))
        return np.moveaxis(out, -1, axis)
    left = max(0, -r.offset)
    size = max(n_in + left, r.offset + left + sum(k * (n - 1) for (_, k), n in
                                                  zip(r.parts, dims)) + 1)
    out = np.zeros(t.shape[:-m] + (size,), dtype=t.dtype)
    (_, k0), n0 = r.parts[0], dims[0]
    for idx in itertools.product(*(range(n) for n in dims[1:])):
        start = r.offset + left + sum(k * i for (_, k), i in zip(r.parts[1:], idx))
        out[..., start: start + k0 * (n0 - 1) + 1: k0] += t[(Ellipsis, slice(None)) + idx]
    return np.moveaxis(out[..., left: left + n_in], -1, axis)


def pattern(r: Relation, sizes: Mapping[str, int], dtype, indices=None) -> np.ndarray:
    """The 0/1 tensor of one relation, over its parts' labels then ``inp``."""
    if indices is not None:
        return (np.arange(sizes[r.inp]) == indices[..., None]).astype(dtype)
    m = len(r.parts)
    value = r.offset
    for j, (c, k) in enumerate(r.parts):
        shape = [1] * (m + 1)
        shape[j] = sizes[c]
        value = value + k * np.arange(sizes[c]).reshape(shape)
    inp = np.arange(sizes[r.inp]).reshape([1] * m + [sizes[r.inp]])
    return (inp == value).astype(dtype)


def program(term: Term, target: str, sizes: Mapping[str, int], dtype):
    """A function of the term's factor arrays (in order) that contracts the term to ``target``
    (labels may repeat: deltas), its relations lowered as the module docstring says."""
    labels = [f.labels for f in term.factors]
    lookups = [r for r in term.relations if isinstance(r, Lookup)]
    n_factors = len(term.factors)

    def slot(r):  # where a lookup's indices arrive among the arguments
        return n_factors + lookups.index(r) if isinstance(r, Lookup) else None

    windows, scatters, consts = [], [], []
    others = lambda r: {c for q in term.relations if q is not r for c in q.labels}  # noqa: E731
    for r in term.relations:
        parts = "".join(c for c, _ in r.parts)
        carriers = [j for j, lab in enumerate(labels) if r.inp in lab]
        if (r.inp not in target and r.inp not in others(r) and len(carriers) == 1
                and not set(parts) & set(labels[carriers[0]])):
            j = carriers[0]
            windows.append((j, labels[j].index(r.inp), r, slot(r)))
            labels[j] = labels[j].replace(r.inp, parts)
        elif (r.inp in target and target.count(r.inp) == 1 and not set(parts) & set(target)
              and not set(parts) & others(r)
              and not any(set(parts) & set(labels[j]) for j in carriers)):
            for j in carriers:  # a factor that also carries i is read at i = s*o + d*k - p
                windows.append((j, labels[j].index(r.inp), r, slot(r)))
                labels[j] = labels[j].replace(r.inp, parts)
            scatters.append(r)
            target = target.replace(r.inp, parts)
        elif isinstance(r, Lookup):
            consts.append((pattern(r, sizes, dtype, r.indices), r.labels))
        else:
            consts.append((pattern(r, sizes, dtype), r.labels))
    placeholders = [(np.empty((0,)), lab) for lab in labels]
    operands, result = full_operands(placeholders + consts, target, sizes, dtype)
    extra = [arr for arr, _ in operands[len(labels):]]
    shapes = [tuple(sizes[c] for c in lab) for lab in labels] + [arr.shape for arr in extra]
    contraction = compiled(ascii_spec([lab for _, lab in operands], result), tuple(shapes))
    scatter_steps = []
    for r in reversed(scatters):
        parts = "".join(c for c, _ in r.parts)
        scatter_steps.append((result.index(parts), r, sizes[r.inp], slot(r)))
        result = result.replace(parts, r.inp)

    def run(*arguments):
        arrays = list(arguments[:n_factors])
        for j, axis, r, k in windows:
            arrays[j] = window_view(arrays[j], axis, r, sizes,
                                    None if k is None else arguments[k])
        value = np.asarray(contraction(*arrays, *extra))
        for axis, r, n_in, k in scatter_steps:
            value = accumulate(value, axis, r, n_in, None if k is None else arguments[k])
        return value

    return run
