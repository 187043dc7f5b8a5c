"""Labelled factors to arrays: cached opt_einsum expressions with a pinned path optimizer.

Labels are single characters (the chain rule keeps them so). An expression is compiled once per
einsum spec and operand shapes and reused. The path search is pinned to opt_einsum's greedy
search (the default search was measured to spend 40-300 ms on small chains with a batch label,
greedy about 1 ms), with one change of cost: the pair whose result is smallest goes first. For a
chain of derivatives that is the right order: a gradient times ``J1 J2`` becomes two
vector-matrix products instead of a matrix product (measured 0.03 ms against 1.0 ms for
300 x 300 Jacobians).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import opt_einsum as oe

from .labels import fresh_labels
from .split import split_product


def _smallest_result(size12, size1, size2, k12, k1, k2) -> int:
    return size12


class SmallestResultGreedy(oe.paths.PathOptimizer):
    """opt_einsum's greedy path search, choosing the pair with the smallest result first."""

    def __call__(self, inputs, output, size_dict, memory_limit=None):
        return oe.paths.greedy(inputs, output, size_dict, memory_limit,
                               cost_fn=_smallest_result)


#: The path optimizer used for every contraction.
OPTIMIZER = SmallestResultGreedy()
#: Contractions whose operands hold fewer entries in all than this go straight to
#: ``np.einsum`` (one C call); at these sizes a path search or BLAS call costs more than it saves.
SMALL = 4096

Operand = tuple[np.ndarray, Sequence[str]]


def einsum_spec(operand_labels: Sequence[Sequence[str]], result: Sequence[str]) -> str:
    """The einsum string for operands with the given labels, e.g. ``"ni,ni,nj->ij"``."""
    return ",".join("".join(labels) for labels in operand_labels) + "->" + "".join(result)


_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ascii_spec(operand_labels: Sequence[Sequence[str]], result: Sequence[str]) -> str:
    """:func:`einsum_spec` with ASCII letters: numpy's einsum takes no other labels, and long
    chains of sums run past the 52 letters in their own labels (one contraction never does).
    Letters that are already ASCII keep their place where they can."""
    spec = einsum_spec(operand_labels, result)
    used = list(dict.fromkeys(c for c in spec if c not in ",->"))
    if all(c in _ASCII for c in used):
        return spec
    free = iter(c for c in _ASCII if c not in used)
    mapping = {c: (c if c in _ASCII else next(free)) for c in used}
    return "".join(mapping.get(c, c) for c in spec)


#: From this many operands on, an expression evaluated on its own (``dense()``, a sum's term)
#: gets its path from opt_einsum's dynamic programming search for the fewest operations: a few
#: ms of search, once per spec and shapes, against greedy pairings that leave a large outer
#: product to the end (measured 6.8 ms against 0.4 ms for a Gauss-Newton block). Compiled
#: chains keep the greedy search.
SEARCHED = 5
#: Above this many operands the search itself grows too costly (measured seconds for 15):
#: greedy again.
SEARCHED_MAX = 10


@lru_cache(maxsize=1024)
def _expression(spec: str, shapes: tuple[tuple[int, ...], ...]):
    optimize = "dp" if SEARCHED <= len(shapes) <= SEARCHED_MAX else OPTIMIZER
    return oe.contract_expression(spec, *shapes, optimize=optimize)


@lru_cache(maxsize=1024)
def path_info(spec: str, shapes: tuple[tuple[int, ...], ...]):
    """opt_einsum's ``PathInfo`` for a spec and shapes (cost, largest intermediate, path)."""
    return oe.contract_path(spec, *shapes, shapes=True, optimize=OPTIMIZER)[1]


def contract(operands: Sequence[Operand], result: Sequence[str]) -> np.ndarray:
    """Contract labelled arrays to an array whose axes carry ``result`` labels.

    Every result label must occur in some operand and occur once in ``result``; labels in no
    result position are summed over.

    >>> import numpy as np
    >>> W, a = np.arange(6.0).reshape(2, 3), np.ones(3)
    >>> contract([(W, "ij"), (a, "j")], "i")
    array([ 3., 12.])
    """
    if not operands:
        return np.ones(())
    spec = ascii_spec([labels for _, labels in operands], result)
    return contract_spec(spec, [arr for arr, _ in operands])


@lru_cache(maxsize=4096)
def _direct(spec: str, shapes: tuple[tuple[int, ...], ...]) -> bool:
    """True when one ``np.einsum`` call is cheapest: a small single operand, and any
    contraction whose naive loop (every combination of its labels) stays small (a pair with a
    larger loop is a matrix product: einsum's loop costs several times BLAS there)."""
    if len(shapes) <= 1 and sum(math.prod(s) for s in shapes) < SMALL:
        return True
    sizes = {c: n for labels, shape in zip(spec.split("->")[0].split(","), shapes)
             for c, n in zip(labels, shape)}
    return math.prod(sizes.values()) < SMALL


def contract_spec(spec: str, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Contract ``arrays`` by an einsum ``spec`` (small contractions in one ``np.einsum``
    call, the rest through a cached opt_einsum expression)."""
    if not arrays:
        return np.ones(())
    shapes = tuple(arr.shape for arr in arrays)
    if _direct(spec, shapes):
        return np.asarray(np.einsum(spec, *arrays))
    groups = _components(spec)
    if len(groups) == 1:
        return np.asarray(_expression(spec, shapes)(*arrays))
    parts = [contract_spec(sub, [arrays[k] for k in members]) for sub, members in groups]
    return np.asarray(np.einsum(_combine_spec(spec, groups), *parts))


def compiled(spec: str, shapes: tuple[tuple[int, ...], ...]):
    """A function of the arrays that contracts them by ``spec`` for these shapes: the choice
    :func:`contract_spec` makes, made once (a pair becomes one matrix product)."""
    if shapes and _direct(spec, shapes):
        return lambda *arrays: np.einsum(spec, *arrays)
    if len(shapes) == 2:
        return _pair(spec, shapes)
    if len(shapes) > 2:
        return _sequence(spec, shapes)
    return lambda *arrays: contract_spec(spec, arrays)


def _broadcast(la: str, lb: str, lr: str, own_a: str, own_b: str, sizes: dict):
    """``A, B -> R`` without a summed shared label, as ``A * B`` broadcast to R's axes."""
    def view(labels: str, own: str):
        kept = labels.translate({ord(c): None for c in own})
        axes = tuple(labels.index(c) for c in own)
        perm = [kept.index(c) for c in lr if c in kept]
        shape = [sizes[c] if c in kept else 1 for c in lr]

        def arrange(x):
            if axes:
                x = x.sum(axis=axes)
            return x.transpose(perm).reshape(shape)
        return arrange

    view_a, view_b = view(la, own_a), view(lb, own_b)
    return lambda a, b: view_a(a) * view_b(b)


def _sequence(spec: str, shapes):
    """Several operands as the pairwise contractions of the cached path, each compiled."""
    inputs, out = spec.split("->")
    labels, sizes = inputs.split(","), {}
    for lab, shape in zip(labels, shapes):
        sizes.update(zip(lab, shape))
    path = path_info(spec, tuple(shapes)).path
    steps = []
    for picks in path:
        picks = sorted(picks, reverse=True)
        ops = [labels.pop(k) for k in picks]
        keep = set(out).union(*labels)
        new = "".join(dict.fromkeys(c for op in ops for c in op if c in keep))
        sub = ",".join(ops) + "->" + new
        steps.append((picks, compiled(sub, tuple(tuple(sizes[c] for c in op) for op in ops))))
        labels.append(new)
    final = None if labels[0] == out else f"{labels[0]}->{out}"

    def run(*arrays):
        arrays = list(arrays)
        for picks, contraction in steps:
            arrays.append(contraction(*[arrays.pop(k) for k in picks]))
        return arrays[0] if final is None else np.einsum(final, arrays[0])

    return run


def _pair(spec: str, shapes):
    """``A, B -> R`` as one (batched) matrix product: labels in A, B and R are batch axes,
    labels in A and B only are summed, the rest are A's or B's free axes."""
    (la, lb), lr = spec.split("->")[0].split(","), spec.split("->")[1]
    if len(set(la)) < len(la) or len(set(lb)) < len(lb) or not set(lr) <= set(la) | set(lb):
        return lambda *arrays: contract_spec(spec, arrays)
    sizes = dict(zip(la, shapes[0])) | dict(zip(lb, shapes[1]))
    own_a = "".join(c for c in la if c not in lb and c not in lr)  # summed within A alone
    own_b = "".join(c for c in lb if c not in la and c not in lr)
    batch = [c for c in lr if c in la and c in lb]
    summed = [c for c in la if c in lb and c not in lr]
    free_a = [c for c in la if c not in lb and c in lr]
    free_b = [c for c in lb if c not in la and c in lr]
    la2, lb2 = la.translate({ord(c): None for c in own_a}), lb.translate(
        {ord(c): None for c in own_b})
    perm_a = [la2.index(c) for c in batch + free_a + summed]
    perm_b = [lb2.index(c) for c in batch + summed + free_b]
    nb, nfa, ns, nfb = (math.prod(sizes[c] for c in group)
                        for group in (batch, free_a, summed, free_b))
    if not summed:  # elementwise or outer: one broadcast multiplication
        return _broadcast(la, lb, lr, own_a, own_b, sizes)
    if ns == 1 or nfa == nfb == 1:  # a plain reduction: no BLAS gain
        return lambda a, b: np.einsum(spec, a, b)
    out_labels = batch + free_a + free_b
    out_shape = tuple(sizes[c] for c in out_labels)
    perm_r = [out_labels.index(c) for c in lr]
    axes_a = tuple(la.index(c) for c in own_a)
    axes_b = tuple(lb.index(c) for c in own_b)

    def run(a, b):
        if axes_a:
            a = a.sum(axis=axes_a)
        if axes_b:
            b = b.sum(axis=axes_b)
        a = a.transpose(perm_a).reshape(nb, nfa, ns)
        b = b.transpose(perm_b).reshape(nb, ns, nfb)
        return np.matmul(a, b).reshape(out_shape).transpose(perm_r)

    return run


@lru_cache(maxsize=1024)
def _components(spec: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Split a contraction into groups of operands that share no label (an outer product of
    independent networks): each group's own spec, to its labels that the result keeps."""
    inputs, result = spec.split("->")
    labels = inputs.split(",")
    groups: list[tuple[set[str], list[int]]] = []
    for k, lab in enumerate(labels):
        joined = [g for g in groups if g[0] & set(lab)]
        merged = (set(lab).union(*(g[0] for g in joined)), sorted(sum((g[1] for g in joined), [k])))
        groups = [g for g in groups if g not in joined] + [merged]
    out = []
    for lab_set, members in sorted(groups, key=lambda g: g[1][0]):
        keep = "".join(c for c in result if c in lab_set)
        out.append((",".join(labels[k] for k in members) + "->" + keep, tuple(members)))
    return tuple(out)


def _combine_spec(spec: str, groups) -> str:
    result = spec.split("->")[1]
    return ",".join(sub.split("->")[1] for sub, _ in groups) + "->" + result


def cache_info():
    """Hit/miss statistics of the compiled-expression cache."""
    return _expression.cache_info()


def full_operands(operands: Sequence[Operand], result: str, sizes: dict, dtype):
    """The operands and result labels that compute a ``result`` whose labels may repeat (a
    Kronecker delta: identity matrices are added) or stand in no operand (constant along that
    axis: ones are added)."""
    taken = set(sizes) | {c for _, labels in operands for c in labels}
    operands = list(operands)
    out: list[str] = []
    seen: set[str] = set()
    for c in result:
        if c in seen:
            (new,) = fresh_labels(1, taken)
            taken.add(new)
            operands.append((np.eye(sizes[c], dtype=dtype), c + new))
            out.append(new)
        else:
            seen.add(c)
            out.append(c)
    present = {c for _, labels in operands for c in labels}
    for c in seen - present:
        operands.append((np.ones(sizes[c], dtype=dtype), c))
    return operands, "".join(out)


def contract_full(operands: Sequence[Operand], result: str, sizes: dict, dtype) -> np.ndarray:
    """Contract to a ``result`` whose labels may repeat or stand in no operand (see
    :func:`full_operands`). A repeated label (a delta) is contracted once and written into the
    diagonal of a zero array through a view, never multiplied by identity matrices."""
    unique = "".join(dict.fromkeys(result))
    if len(unique) < len(result):
        compact = contract_full(operands, unique, sizes, dtype)
        full = np.zeros(tuple(sizes[c] for c in result), dtype=dtype)
        np.einsum(ascii_spec([result], unique), full)[...] = compact
        return full
    operands, out = full_operands(operands, result, sizes, dtype)
    if not operands:
        return np.ones((), dtype=dtype)
    value = split_product(operands, out, sizes, contract)
    if value is None:
        value = contract(operands, out)
    return np.asarray(value, dtype=dtype)
