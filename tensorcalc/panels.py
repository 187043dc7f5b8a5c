"""What one heatmap panel shows of a derivative: a 2-d array, its structure mask, block lines,
axis labels in the figure's index letters, and a note when the tensor is too big to draw whole.

A gradient is drawn in its parameter's shape (dC/dW as W's matrix, a batched gradient N x n, a
kernel gradient as output channel and kernel row by input channel and kernel column); any other
derivative as (output entries, input entries) with its leading axes' blocks outlined. Above
``DRAW_BUDGET`` entries the compact factor is drawn instead (deltas kept as labels: a diagonal
Jacobian as its diagonal, dz/dW as its factor a), or failing that its leading corner; the panel
notes the structure and what is drawn, its axes named in the figure's letters.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import numpy as np

from .core.derivative import Derivative
from .core.term import Factor, Term

#: Most entries a panel draws; a bigger tensor is drawn compact or cut to a corner.
DRAW_BUDGET = 1_000_000
#: The corner drawn of a tensor too big even compact (rows, columns).
CORNER = (1000, 1000)
_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"


class Letters:
    """One index letter per axis of each variable, the same in every panel of a figure."""

    def __init__(self) -> None:
        self.given: dict[tuple[str, int], str] = {}

    def of(self, symbol: str, ndim: int) -> list[str]:
        out = []
        for axis in range(ndim):
            key = (symbol, axis)
            if key not in self.given:
                k = len(self.given)  # past the alphabet: i1, j1, ...
                self.given[key] = _LETTERS[k % len(_LETTERS)] + (
                    str(k // len(_LETTERS)) if k >= len(_LETTERS) else "")
            out.append(self.given[key])
        return out


def axis_label(symbol: str, letters) -> str:
    """``z^1 index i``, ``W^1 index (j, k)``; a scalar's side is ``C (scalar)``."""
    letters = list(letters)
    if not letters:
        return f"{symbol} (scalar)"
    return f"{symbol} index " + (letters[0] if len(letters) == 1 else
                                 f"({', '.join(letters)})")


def structure_mask(d: Derivative) -> np.ndarray:
    """Boolean array of ``d.shape``: True where an entry may be non-zero, False where it is a
    structural zero (the value of the same network with every factor replaced by ones and
    every coefficient by 1, so that terms cannot cancel)."""
    terms = tuple(Term(tuple(Factor(np.ones(f.array.shape), f.labels, f.symbol)
                             for f in t.factors), t.out_labels, t.in_labels, 1.0, t.relations)
                  for t in d.terms)
    return Derivative._make(terms, d.sizes, d.of, d.wrt, d.dtype).dense() != 0


@dataclass
class Panel:
    values: np.ndarray  # 2-d
    mask: np.ndarray  # 2-d, True where an entry may be non-zero
    ylabel: str
    xlabel: str
    row_block: int = 0
    col_block: int = 0
    note: str = ""

    @property
    def vmax(self) -> float:
        return float(np.max(np.abs(self.values), initial=0.0))


def panel(d: Derivative, letters: Letters) -> Panel:
    """The panel of ``d`` (see the module docstring)."""
    out_l, in_l = letters.of(d.of, len(d.out_shape)), letters.of(d.wrt, len(d.in_shape))
    size = math.prod(d.shape)
    if size > DRAW_BUDGET:
        return _big(d, size, out_l, in_l)
    values, mask = d.dense(), structure_mask(d)
    if d.out_shape == () and len(d.in_shape) in (2, 3):  # a gradient, in its shape
        lead = d.in_shape[0]
        return Panel(values.reshape(lead, -1), mask.reshape(lead, -1),
                     axis_label(d.wrt, in_l[:1]), axis_label(d.wrt, in_l[1:]))
    if d.out_shape == () and len(d.in_shape) == 4:  # a kernel gradient, in K's shape
        c_out, c_in, kh, kw = d.in_shape
        return Panel(values.transpose(0, 2, 1, 3).reshape(c_out * kh, c_in * kw),
                     mask.transpose(0, 2, 1, 3).reshape(c_out * kh, c_in * kw),
                     axis_label(d.wrt, [in_l[0], in_l[2]]), axis_label(d.wrt, [in_l[1], in_l[3]]),
                     kh, kw)
    rows = math.prod(d.out_shape)
    rb = rows // d.out_shape[0] if len(d.out_shape) > 1 else 0
    cb = math.prod(d.in_shape) // d.in_shape[0] if len(d.in_shape) > 1 else 0
    return Panel(values.reshape(rows, -1), mask.reshape(rows, -1), axis_label(d.of, out_l),
                 axis_label(d.wrt, in_l), rb, cb)


def _big(d: Derivative, size: int, out_l: list[str], in_l: list[str]) -> Panel:
    """A tensor above the budget, never densified: the largest factor of its first term (cut
    to its leading corner if that too is above the budget), its axes named in the figure's
    letters, with a note of the structure and of what is drawn."""
    term = d.terms[0]
    structure = d.structure
    head = f"{size:,} entries, too many to draw"
    if not term.factors:
        return Panel(np.ones((1, 1)), np.ones((1, 1), bool), "", "",
                     note=_wrap(f"{head}; {structure}: every entry 0 or 1, no factor to draw"))
    names = _names(term, d, out_l, in_l)
    factor = max(term.factors, key=lambda f: f.array.size)
    arr = factor.array.reshape(factor.array.shape[0], -1) if factor.array.ndim > 1 else \
        factor.array[None]
    r = min(arr.shape[0], CORNER[0])
    c = min(arr.shape[1], DRAW_BUDGET // r)
    cut = arr.shape != (r, c)
    arr = arr[:r, :c]
    labels = factor.labels
    rows, cols = (labels[:1], labels[1:]) if factor.array.ndim > 1 else ("", labels)
    which = f"term 1 of {len(d.terms)}, " if len(d.terms) > 1 else ""
    shown = "its diagonal" if structure == "diagonal" else "its factor"
    return Panel(np.asarray(arr, dtype=float), np.ones(arr.shape, bool),
                 _factor_axis(factor.symbol, rows, names), _factor_axis(factor.symbol, cols, names),
                 note=_wrap(f"{head}; {structure}: drawn as {which}{shown} {factor.symbol}"
                            + (f", first {r} x {c}" if cut else "")))


def _names(term: Term, d: Derivative, out_l: list[str], in_l: list[str]) -> dict:
    """Each label of ``term`` as (tensor, figure letter): an output or input axis by its
    tensor's letter (a delta's shared label by the output side), a summed label primed."""
    names: dict[str, tuple[str, str]] = {}
    for labels, symbol, letters in ((term.out_labels, d.of, out_l),
                                    (term.in_labels, d.wrt, in_l)):
        for c, letter in zip(labels, letters):
            names.setdefault(c, (symbol, letter))
    return names


def _factor_axis(symbol: str, labels: str, names: dict) -> str:
    """The axis label of a factor's labels: ``W^1 index n`` when they all name axes of one
    tensor, else ``z^1, W^1 index (i, n)``; a summed label as ``symbol index k'``."""
    if not labels:
        return ""
    named = [names.get(c, (symbol, c + "'")) for c in labels]
    tensors = list(dict.fromkeys(t for t, _ in named))
    if len(tensors) == 1:
        return axis_label(tensors[0], [letter for _, letter in named])
    return axis_label(", ".join(tensors), [letter for _, letter in named])


def _wrap(note: str, width: int = 48) -> str:
    return "\n".join(textwrap.wrap(note, width))
