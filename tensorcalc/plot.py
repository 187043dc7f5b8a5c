"""Heatmaps of derivative tensors (matplotlib is the ``plot`` extra).

Computed entries are coloured on a diverging scale centred at 0; structural zeros (entries off a
Kronecker delta's diagonal, zero whatever the numbers) are grey, so the sparsity that the chain
rule exploits is visible. Figures are built without pyplot, so they render headless.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .core.derivative import Derivative
from .core.term import Factor, Term
from .errors import TensorcalcError

#: Colour of structural zeros.
STRUCTURAL_ZERO = "#cfcfcf"
#: At most this many slices of a 3-tensor are drawn.
MAX_SLICES = 12


def _matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install matplotlib (the project's "
                          "'plot' extra)") from err
    return Figure


def structure_mask(d: Derivative) -> np.ndarray:
    """Boolean array of ``d.shape``: True where an entry may be non-zero, False where it is a
    structural zero (the value of the same network with every factor replaced by ones and
    every coefficient by 1, so that terms cannot cancel)."""
    terms = tuple(Term(tuple(Factor(np.ones(f.array.shape), f.labels, f.symbol)
                             for f in t.factors), t.out_labels, t.in_labels, 1.0, t.relations)
                  for t in d.terms)
    return Derivative._make(terms, d.sizes, d.of, d.wrt, d.dtype).dense() != 0


def as_matrix(d: Derivative) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The dense tensor flattened to (prod out, prod in), its structure mask, and the block
    sizes of the leading output and input axes (for drawing batch blocks)."""
    arr, mask = d.dense(), structure_mask(d)
    rows = int(np.prod(d.out_shape, dtype=np.int64))
    cols = int(np.prod(d.in_shape, dtype=np.int64))
    row_block = rows // d.out_shape[0] if len(d.out_shape) > 1 else 0
    col_block = cols // d.in_shape[0] if len(d.in_shape) > 1 else 0
    return arr.reshape(rows, cols), mask.reshape(rows, cols), row_block, col_block


def _draw(ax, values, mask, vmax, *, row_block=0, col_block=0):
    import matplotlib as mpl

    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad=STRUCTURAL_ZERO)
    shown = np.ma.masked_array(values, mask=~mask)
    image = ax.imshow(shown, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest",
                      aspect="auto")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if values.shape[0] == 1:
        ax.set_yticks([])
    for k in range(row_block, values.shape[0], row_block or values.shape[0] + 1):
        ax.axhline(k - 0.5, color="black", linewidth=0.8)
    for k in range(col_block, values.shape[1], col_block or values.shape[1] + 1):
        ax.axvline(k - 0.5, color="black", linewidth=0.8)
    return image


def _labels(d: Derivative) -> tuple[str, str]:
    out_letters, in_letters = d.index_letters
    out = ",".join(out_letters) or "-"
    inp = ",".join(in_letters) or "-"
    return f"{d.of} index [{out}]", f"{d.wrt} index [{inp}]"


def plot(d: Derivative, *, figsize: tuple[float, float] | None = None):
    """A heatmap of ``d`` in canonical layout; returns a matplotlib ``Figure``.

    A Jacobian or scalar-by-matrix derivative is one matrix; a 3-tensor is a row of slices along
    its first axis; higher ranks (batched tensors) are flattened to (output, input) with the
    blocks of the leading axes outlined. Structural zeros are grey.

    >>> import numpy as np, tensorcalc as tc
    >>> fig = tc.plot(tc.linear.derivative(np.ones((4, 3)), np.arange(3.0), wrt="W"))
    >>> len(fig.axes)  # four slices and a colour bar
    5
    """
    if not isinstance(d, Derivative):
        raise TensorcalcError(f"tc.plot draws a Derivative, not a {type(d).__name__}; for "
                              f"backprop results plot one gradient, e.g. tc.plot(g['W1']).")
    Figure = _matplotlib()
    values, mask = d.dense(), structure_mask(d)
    vmax = float(np.max(np.abs(values), initial=0.0)) or 1.0
    ylabel, xlabel = _labels(d)
    title = f"d{d.of}/d{d.wrt}: {d.kind} {d.shape}, grey = structural zero"
    if values.ndim == 3:
        n = min(values.shape[0], MAX_SLICES)
        fig = Figure(figsize=figsize or (2.6 * n + 1.2, 3.2), layout="constrained")
        axes = fig.subplots(1, n, squeeze=False)[0]
        in_axes = d.in_labels if len(d.out_labels) == 1 else d.out_labels[1:] + d.in_labels
        for k, ax in enumerate(axes):
            image = _draw(ax, values[k], mask[k], vmax)
            ax.set_title(f"[{d.out_labels[0] if d.out_labels else d.in_labels[0]}={k}]")
            ax.set_xlabel(f"index [{in_axes[-1]}]")
            ax.set_ylabel(f"index [{in_axes[-2]}]" if k == 0 else "")
        fig.suptitle(title + ("" if n == values.shape[0] else f" (first {n} slices)"))
    else:
        matrix, mmask, rb, cb = as_matrix(d)
        if d.out_shape == () and len(d.in_shape) == 2:
            matrix, mmask, rb, cb = values, mask, 0, 0
            ylabel = f"{d.wrt} index [{d.in_labels[0]}]"
            xlabel = f"{d.wrt} index [{d.in_labels[1]}]"
        elif d.out_shape == () and len(d.in_shape) == 4:  # a kernel gradient, in K's shape
            c_out, c_in, kh, kw = d.in_shape
            matrix = values.transpose(0, 2, 1, 3).reshape(c_out * kh, c_in * kw)
            mmask = mask.transpose(0, 2, 1, 3).reshape(c_out * kh, c_in * kw)
            rb, cb = kh, kw
            ylabel = f"{d.wrt}: output channel, then kernel row"
            xlabel = f"{d.wrt}: input channel, then kernel column"
        fig = Figure(figsize=figsize or (5.5, 4.2), layout="constrained")
        ax = fig.subplots()
        image = _draw(ax, matrix, mmask, vmax, row_block=rb, col_block=cb)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        axes = [ax]
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    return fig


def plot_chain(steps: Sequence, *, figsize: tuple[float, float] | None = None):
    """One row per chain-rule step of an explanation (``tc.explain(...)`` or its ``.steps``):
    each derivative chained, then the result, each flattened to an (output, input) matrix."""
    steps = list(getattr(steps, "steps", steps))  # an Explanation, or its steps
    if not steps:
        raise TensorcalcError("plot_chain needs at least one step, e.g. "
                              "tc.plot_chain(tc.explain(net, x, y, 'W1')).")
    Figure = _matplotlib()
    cols = max(len(s.parts) for s in steps) + 1
    fig = Figure(figsize=figsize or (3.0 * cols, 2.6 * len(steps)), layout="constrained")
    grid = fig.subplots(len(steps), cols, squeeze=False)
    for row, step in zip(grid, steps):
        for k, ax in enumerate(row):
            if k < len(step.parts):
                d, name = step.parts[k], f"d{step.parts[k].of}/d{step.parts[k].wrt}"
            elif k == cols - 1:
                d, name = step.result.contracted(), step.target
            else:
                ax.set_visible(False)
                continue
            values, mask, rb, cb = as_matrix(d)
            vmax = float(np.max(np.abs(values), initial=0.0)) or 1.0
            _draw(ax, values, mask, vmax, row_block=rb, col_block=cb)
            ax.set_title(f"{name}\n{d.kind} {d.shape}", fontsize=8)
            ylabel, xlabel = _labels(d)
            ax.set_xlabel(xlabel, fontsize=7)
            ax.set_ylabel(ylabel, fontsize=7)
    fig.suptitle("each row: one chain-rule step (grey = structural zero)")
    return fig
