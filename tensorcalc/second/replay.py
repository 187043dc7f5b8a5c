"""Second-order computations compiled once per network structure and replayed.

The first call for a structure (the network's signature: its layers, its loss with its scale
and reduction, weight decay, its parameter names and symbols and its type; and the shapes and
types of the input and targets) builds its parts as chains of derivatives, recording the
contractions that evaluate them (:mod:`tensorcalc.core.record`). Later calls replay those
contractions on the leaves of their own forward pass (:mod:`tensorcalc.second.leaves`) and
rebuild the resulting derivatives from them (:mod:`tensorcalc.core.program`), building no
chain again. A part left out because its leaf
was all zeros (an activation whose ``f''`` or upstream gradient vanished there) is checked
again, and the structure compiled anew if it no longer vanishes. A computation that reads an
array of another origin (a convolution's bilinear columns) is not kept: it is built afresh
each time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.program import Program, compile_program, program_outputs, run_program
from ..core.record import recording

#: Compiled structures kept at most (the oldest are dropped first).
KEEP = 64


@dataclass(frozen=True)
class Compiled:
    program: Program
    extra: object  # what the caller keeps besides the program
    absent: frozenset


_COMPILED: dict[tuple, Compiled] = {}


def structure(parts, *what) -> tuple:
    """The key of a computation ``what`` on the network and data of ``parts``."""
    x = parts.fw.x
    return (parts.net.signature, x.shape, x.dtype.char, np.shape(parts.y)) + what


def replayed(parts, key: tuple, build: Callable):
    """``(values, outputs, extra)``: every recorded step's value, the output derivatives and
    the caller's extra, replayed for ``key``, or built by ``build(rec)`` and compiled for the
    next call. ``build`` returns ``(outputs, extra, keep)`` (``keep`` False: not to be
    compiled), or None when there is nothing to compute that way. The dense method
    (``parts.dense``, every part materialised) is always built afresh."""
    done = None if parts.dense else _COMPILED.get(key)
    if done is not None:
        if not any(parts.nonzero(k) for k in done.absent):
            leaves = parts.leaf_arrays(done.program.leaves)
            values = run_program(done.program, leaves)
            return values, program_outputs(done.program, leaves, values), done.extra
        del _COMPILED[key]
    with recording() as rec:
        built = build(rec)
    if built is None:
        return None
    outputs, extra, keep = built
    program = (compile_program(rec, parts.built_leaves(), outputs)
               if keep and not parts.dense else None)
    if program is not None:
        if len(_COMPILED) >= KEEP:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = Compiled(program, extra, frozenset(parts.absent))
    return [s.result for s in rec.steps], list(outputs), extra
