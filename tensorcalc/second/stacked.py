"""The whole Hessian as one matrix, its Gauss-Newton part one matrix product, its label algebra
done once per network structure.

With ``G`` the per-sample Jacobian of the logits by every parameter (``J_p`` of each block,
contracted to (sample, logit, parameter entry)) and ``H_n`` the loss's curvature at sample
``n``'s logits,

    sum_n G_n^T H_n G_n  =  G^T (H G)        one (P x NK) by (NK x P) matrix product,

where the blocks would each contract their own ``J_p^T H J_q``. The other parts (the curvature
of each hidden activation, the bilinear terms, weight decay) are added block by block; they
are small and carry deltas. ``G`` holds ``N K P`` entries, so this route is taken when that is
no more than the ``P x P`` result (``N K <= P``).

The first call for a structure builds every part as a chain of derivatives; later calls replay
its contractions (:mod:`tensorcalc.second.replay`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.contract import ascii_spec
from .blocks import Parts
from .replay import replayed, structure


@dataclass(frozen=True)
class Placement:
    """Where a part's compact value (deltas not expanded) goes: the block of parameters ``i``
    and ``j``, read as ``shape``; the einsum spec of its diagonal view on that block, and the
    spec and index that align the value with the view (an axis the value is constant along
    is broadcast)."""

    i: int
    j: int
    shape: tuple[int, ...]
    view: str
    align: str
    index: tuple


@dataclass(frozen=True)
class Layout:
    """Where the evaluated arrays go: ``n`` samples of ``k`` logits, each parameter's size,
    and the place of each other part."""

    n: int
    k: int
    sizes: tuple[int, ...]
    parts: tuple[Placement, ...]


def _placement(d, i: int, j: int) -> Placement:
    """Where part ``d`` of block (i, j) goes: its delta pattern read off its letters."""
    out, inp = d._pattern
    labels = out + inp
    unique = "".join(dict.fromkeys(labels))
    kept = d.result_labels
    order = "".join(c for c in unique if c in kept)
    index = tuple(slice(None) if c in kept else None for c in unique)
    return Placement(i, j, d.shape, ascii_spec([labels], unique), ascii_spec([kept], order),
                     index)


def stacked_matrix(parts: Parts, names: list[str]) -> np.ndarray | None:
    """The whole Hessian (module docstring), or None when the per-sample Jacobian would hold
    more entries than the matrix."""
    found = replayed(parts, structure(parts, "matrix"), lambda rec: _evaluate(parts, names, rec))
    if found is None:
        return None
    values, _, (steps, layout) = found
    return _assemble([values[k] for k in steps], layout)


def _evaluate(parts: Parts, names: list[str], rec):
    """For :func:`~tensorcalc.second.replay.replayed`: no output derivative; the recorded
    step that gave each array the matrix is assembled from, and the layout; or None (the
    Jacobian route does not pay)."""
    top = parts.tpl.top + 1
    jacobians = [parts.jac(top, p) for p in names]
    out_shape = jacobians[0].out_shape
    n = out_shape[0] if parts.batched else 1
    k = int(np.prod(out_shape)) // n
    sizes = tuple(parts.net.params[p].size for p in names)
    if n * k > sum(sizes):
        return None
    gn, out = parts.curvatures
    derivatives = jacobians + [gn if out is None else gn + out]
    where = []
    for i, p in enumerate(names):
        for j in range(i, len(names)):
            for d in parts.block(p, names[j], logits=False).values():
                derivatives.append(d)
                where.append(_placement(d, i, j))
    steps = []
    for m, d in enumerate(derivatives):
        before = rec.last
        _ = d.dense() if m <= len(names) else d.compact  # what is kept is the step
        if rec.last != before + 1:
            raise RuntimeError("an evaluation of a Hessian part recorded no single step")
        steps.append(rec.last)
    return (), (tuple(steps), Layout(n, k, sizes, tuple(where))), True


def _assemble(values: list[np.ndarray], layout: Layout) -> np.ndarray:
    """The matrix from the arrays of :func:`_evaluate`: the Jacobians, the curvature at the
    logits, then the other parts."""
    n, k, sizes = layout.n, layout.k, layout.sizes
    P, m = sum(sizes), len(sizes)
    G = np.concatenate([v.reshape(n, k, s) for v, s in zip(values[:m], sizes)], axis=2)
    H = np.einsum("nink->nik", values[m].reshape(n, k, n, k))
    matrix = G.reshape(n * k, P).T @ np.matmul(H, G).reshape(n * k, P)
    edges = np.cumsum((0,) + sizes)
    for place, value in zip(layout.parts, values[m + 1:]):
        value = np.einsum(place.align, value)[place.index]
        i, j = place.i, place.j
        blocks = [matrix[edges[i]:edges[i + 1], edges[j]:edges[j + 1]]]
        if j != i:
            blocks.append(matrix[edges[j]:edges[j + 1], edges[i]:edges[i + 1]].T)
        for block in blocks:
            view = block.reshape(place.shape)  # splits each axis: always a view
            if not np.may_share_memory(view, matrix):
                raise RuntimeError("a block of the Hessian matrix could not be viewed in its "
                                   "parameters' shapes")
            np.einsum(place.view, view)[...] += value
    return matrix
