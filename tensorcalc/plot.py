"""Heatmaps of derivative tensors (matplotlib is the ``plot`` extra).

Computed entries are coloured on a diverging scale centred at 0; structural zeros (entries off a
Kronecker delta's diagonal, zero whatever the numbers) are grey, so the sparsity that the chain
rule exploits is visible. Every panel has a colour bar; the panels of one chain-rule step share
one scale; every axis is labelled with its tensor and an index letter that is the same in every
panel of a figure. Tensors too big to draw are drawn compact and say so (see
:mod:`tensorcalc.panels`). Figures are built without pyplot, so they render headless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .core.derivative import Derivative
from .errors import TensorcalcError
from .panels import DRAW_BUDGET, Letters, Panel, axis_label, panel, structure_mask
from .second.parts import HessianParts

#: Colour of structural zeros.
STRUCTURAL_ZERO = "#cfcfcf"
#: At most this many slices of a 3-tensor are drawn, at most ``COLUMNS`` to a row.
MAX_SLICES = 24
COLUMNS = 6
#: A chain panel whose largest entry is below this fraction of its step's shared scale names
#: that entry in its title (it reads as nearly blank on the shared colours).
FAINT = 0.2

__all__ = ["plot", "plot_chain", "structure_mask"]


def _matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install matplotlib (the project's "
                          "'plot' extra)") from err
    return Figure


def _draw(fig, ax, p: Panel, vmax: float, title: str = "", fontsize: int = 8):
    """One panel on ``ax`` with its own colour bar."""
    import matplotlib as mpl
    from matplotlib.ticker import MaxNLocator

    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad=STRUCTURAL_ZERO)
    shown = np.ma.masked_array(p.values, mask=~p.mask)
    image = ax.imshow(shown, cmap=cmap, vmin=-(vmax or 1.0), vmax=vmax or 1.0,
                      interpolation="nearest", aspect="auto")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if p.values.shape[0] == 1:
        ax.set_yticks([])
    for k in range(p.row_block, p.values.shape[0], p.row_block) if p.row_block else ():
        ax.axhline(k - 0.5, color="black", linewidth=0.8)
    for k in range(p.col_block, p.values.shape[1], p.col_block) if p.col_block else ():
        ax.axvline(k - 0.5, color="black", linewidth=0.8)
    ax.set_xlabel(p.xlabel, fontsize=fontsize)
    ax.set_ylabel(p.ylabel, fontsize=fontsize)
    ax.set_title(title + (f"\n{p.note}" if p.note else ""), fontsize=fontsize)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return image


def plot(d: Derivative, *, figsize: tuple[float, float] | None = None):
    """A heatmap of ``d`` in canonical layout; returns a matplotlib ``Figure``.

    A Jacobian is one matrix, a gradient is drawn in its parameter's shape, a 3-tensor is a
    grid of slices along its first axis (at most 6 to a row), higher ranks (batched tensors)
    are flattened to (output, input) with the blocks of the leading axes outlined. Structural
    zeros are grey; every axis names its tensor and index. The mapping of every Hessian block
    (``tc.hessian(net, x, y)``) is drawn as one matrix with the parameter blocks outlined.

    >>> import numpy as np, tensorcalc as tc
    >>> fig = tc.plot(tc.linear.derivative(np.ones((4, 3)), np.arange(3.0), wrt="W"))
    >>> len(fig.axes)  # four slices, each with its colour bar
    8
    """
    if isinstance(d, Mapping) and d and all(isinstance(k, tuple) for k in d):
        return _hessian(d, figsize)
    if not isinstance(d, Derivative):
        raise TensorcalcError(f"tc.plot draws a Derivative, not a {type(d).__name__}; for "
                              f"backprop results plot one gradient, e.g. tc.plot(g['W1']).")
    Figure = _matplotlib()
    title = f"{d.name}: {d.kind} {d.shape}, grey = structural zero"
    letters = Letters()
    if len(d.shape) == 3 and math.prod(d.shape) <= DRAW_BUDGET:
        return _slices(Figure, d, letters, title, figsize)
    fig = Figure(figsize=figsize or (5.5, 4.2), layout="constrained")
    p = panel(d, letters)
    _draw(fig, fig.subplots(), p, p.vmax, title, 9)
    return fig


def _hessian(blocks: Mapping, figsize):
    """Every block of a whole-network Hessian as one symmetric matrix, parameters in order,
    the block boundaries drawn and named."""
    Figure = _matplotlib()
    names = list(dict.fromkeys(p for p, _ in blocks))
    sizes = [math.prod(blocks[p, p].out_shape) for p in names]
    matrix = (blocks.matrix() if hasattr(blocks, "matrix") else
              np.block([[blocks[p, q].dense().reshape(sizes[i], sizes[j])
                         for j, q in enumerate(names)] for i, p in enumerate(names)]))
    edges = np.cumsum([0] + sizes)
    fig = Figure(figsize=figsize or (6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    p = Panel(matrix, np.ones(matrix.shape, bool), "parameter entries", "parameter entries")
    _draw(fig, ax, p, p.vmax, f"d2C/dp dq: the whole Hessian, {matrix.shape[0]} parameters")
    for e in edges[1:-1]:
        ax.axhline(e - 0.5, color="black", linewidth=0.8)
        ax.axvline(e - 0.5, color="black", linewidth=0.8)
    centres = (edges[:-1] + edges[1:] - 1) / 2
    ax.set_xticks(centres, names, fontsize=7)
    ax.set_yticks(centres, names, fontsize=7)
    return fig


def _slices(Figure, d: Derivative, letters: Letters, title: str, figsize):
    """A 3-tensor as a grid of its slices along the first axis, one colour scale."""
    values, mask = d.dense(), structure_mask(d)
    first, rest = _first_axis(d, letters)
    n = min(values.shape[0], MAX_SLICES)
    cols = min(n, COLUMNS)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=figsize or (min(2.8 * cols + 1.0, 17.0), 2.6 * rows + 0.8),
                 layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    vmax = float(np.max(np.abs(values), initial=0.0))
    for k, ax in enumerate(axes):
        if k >= n:
            ax.set_visible(False)
            continue
        p = Panel(values[k], mask[k], axis_label(*rest[0]), axis_label(*rest[1]))
        _draw(fig, ax, p, vmax, f"{first} = {k}")
    fig.suptitle(title + "; one colour scale" + ("" if n == values.shape[0] else
                                                 f" (first {n} of {values.shape[0]} slices)"))
    return fig


def _first_axis(d: Derivative, letters: Letters):
    """The slicing axis as ``z^1 index i`` and the two axes of a slice as (symbol, letter)."""
    out_l, in_l = letters.of(d.of, len(d.out_shape)), letters.of(d.wrt, len(d.in_shape))
    axes = [(d.of, c) for c in out_l] + [(d.wrt, c) for c in in_l]
    return axis_label(*axes[0]), axes[1:]


def plot_chain(steps: Sequence, *, figsize: tuple[float, float] | None = None):
    """One row per chain-rule step of an explanation (``tc.explain(...)`` or its ``.steps``):
    each derivative chained, then the result (a gradient in its parameter's shape), each with
    its colour bar; the panels of a step share one colour scale, and an index letter names the
    same axis in every panel. A panel that is faint on the shared scale gives its largest
    entry in its title. Big tensors are drawn compact, with a note. The parts of a Hessian
    block (``tc.explain(net, x, y, ("W1", "W1"))``) are drawn one part to a row, then the
    block, their sum, all on one colour scale.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> fig = tc.plot_chain(tc.explain(net, np.ones(3), np.zeros(2), "W1"))
    >>> last = [ax for ax in fig.axes if ax.get_title().startswith("dC/dW^1")][0]
    >>> last.images[0].get_array().shape  # dC/dW^1 as W^1's 4 x 3 matrix
    (4, 3)
    """
    if isinstance(steps, HessianParts):
        return _parts(steps, figsize)
    steps = list(getattr(steps, "steps", steps))  # an Explanation, or its steps
    if not steps:
        raise TensorcalcError("plot_chain needs at least one step, e.g. "
                              "tc.plot_chain(tc.explain(net, x, y, 'W1')).")
    if not all(hasattr(s, "parts") and hasattr(s, "result") for s in steps):
        raise TensorcalcError(f"plot_chain draws the steps of an explanation, e.g. "
                              f"tc.plot_chain(tc.explain(net, x, y, 'W1')); got "
                              f"{type(steps[0]).__name__} items (draw one derivative with "
                              f"tc.plot(d)).")
    Figure = _matplotlib()
    cols = max(len(s.parts) for s in steps) + 1
    fig = Figure(figsize=figsize or (3.4 * cols, 2.8 * len(steps)), layout="constrained")
    grid = fig.subplots(len(steps), cols, squeeze=False)
    letters = Letters()
    for row, step in zip(grid, steps):
        shown = [(p, p.name) for p in step.parts]
        result = (step.result.contracted() if math.prod(step.result.shape) <= DRAW_BUDGET
                  else step.result)
        shown.append((result, step.target))
        panels = [(panel(d, letters), name, d) for d, name in shown]
        vmax = max(p.vmax for p, _, _ in panels)
        for k, ax in enumerate(row):
            if k < len(step.parts) or k == cols - 1:
                p, name, d = panels[min(k, len(panels) - 1)]
                faint = f", max |entry| {p.vmax:.2g}" if 0 < p.vmax < FAINT * vmax else ""
                _draw(fig, ax, p, vmax, f"{name}\n{d.kind} {d.shape}{faint}", 7)
            else:
                ax.set_visible(False)
    fig.suptitle("each row: one chain-rule step, its panels on one shared colour scale "
                 "(grey = structural zero)")
    return fig


def _parts(parts: HessianParts, figsize):
    """Each part of a Hessian block as one row, then their sum, on one colour scale."""
    Figure = _matplotlib()
    rows = list(parts.items()) + [(f"the block: the sum of the {len(parts)} parts",
                                   parts.total())]
    fig = Figure(figsize=figsize or (6.0, 2.8 * len(rows)), layout="constrained")
    letters = Letters()
    panels = [(panel(d, letters), name, d) for name, d in rows]
    vmax = max(p.vmax for p, _, _ in panels)
    for ax, (p, name, d) in zip(fig.subplots(len(rows), 1, squeeze=False)[:, 0], panels):
        faint = f", max |entry| {p.vmax:.2g}" if 0 < p.vmax < FAINT * vmax else ""
        _draw(fig, ax, p, vmax, f"{name}\n{d.kind} {d.shape}{faint}", 7)
    fig.suptitle(f"d2C/d{parts.of[4:]} d{parts.wrt}: one part of the Hessian block per row,\n"
                 f"then their sum; one colour scale (grey = structural zero)")
    return fig
