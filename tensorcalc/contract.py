"""Labelled factors to arrays: cached opt_einsum expressions with a pinned path optimizer.

Labels are single characters (the chain rule keeps them so). An expression is compiled once per
einsum spec and operand shapes and reused; the path search is pinned to ``greedy``, because the
default search was measured to spend 40-300 ms on small chains with a batch label where greedy
needs about 1 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import opt_einsum as oe

#: The path optimizer used for every contraction.
OPTIMIZER = "greedy"
#: Contractions whose operands hold fewer entries in all than this go straight to
#: ``np.einsum`` (one C call); at these sizes a path search or BLAS call costs more than it saves.
SMALL = 4096

Operand = tuple[np.ndarray, Sequence[str]]


def einsum_spec(operand_labels: Sequence[Sequence[str]], result: Sequence[str]) -> str:
    """The einsum string for operands with the given labels, e.g. ``"ni,ni,nj->ij"``."""
    return ",".join("".join(labels) for labels in operand_labels) + "->" + "".join(result)


@lru_cache(maxsize=1024)
def _expression(spec: str, shapes: tuple[tuple[int, ...], ...]):
    return oe.contract_expression(spec, *shapes, optimize=OPTIMIZER)


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
    spec = einsum_spec([labels for _, labels in operands], result)
    arrays = [arr for arr, _ in operands]
    if len(arrays) <= 2 and sum(a.size for a in arrays) < SMALL:
        return np.asarray(np.einsum(spec, *arrays))
    shapes = tuple(arr.shape for arr in arrays)
    return np.asarray(_expression(spec, shapes)(*arrays))


def cache_info():
    """Hit/miss statistics of the compiled-expression cache."""
    return _expression.cache_info()
