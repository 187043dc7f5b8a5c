"""Every block of a network's Hessian: a mapping keyed by parameter pairs, each block built
when it is first read, and the whole Hessian as one ``(P, P)`` matrix.

The matrix takes its Gauss-Newton part from one product over all parameters, and its label
algebra is done once per structure (:mod:`tensorcalc.second.stacked`); where that product
would be larger than the matrix, the blocks are assembled.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.limits import get_dense_limit
from ..errors import MemoryLimitError
from .blocks import Parts
from .stacked import stacked_matrix


class HessianBlocks(Mapping):
    """``(p, q) -> d2C/dp dq`` for every pair of parameters (``tc.hessian(net, x, y)``), each
    block a :class:`~tensorcalc.Derivative` built on first access; :meth:`matrix` is the whole
    Hessian as one symmetric array.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> H = tc.hessian(net, np.ones((5, 3)), np.zeros((5, 2)))
    >>> H["W1", "b2"].shape, H.matrix().shape  # 12 + 4 + 8 + 2 parameters
    ((4, 3, 2), (26, 26))
    """

    def __init__(self, net, pairs, build, parts: Parts | None = None) -> None:
        self.net, self._pairs, self._build, self._parts = net, list(pairs), build, parts
        self._blocks: dict = {}

    def __getitem__(self, key):
        if key not in self._blocks:
            if key not in self._pairs:
                raise KeyError(key)
            self._blocks[key] = self._build(key, self._blocks)
        return self._blocks[key]

    def __iter__(self):
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        names = list(self.net.params)
        return (f"<HessianBlocks: {len(self)} blocks of {len(names)} parameters "
                f"({', '.join(names)}), {self.size} entries in all>")

    @property
    def size(self) -> int:
        """P, the number of parameter entries (the matrix is P x P)."""
        return int(sum(p.size for p in self.net.params.values()))

    def matrix(self) -> np.ndarray:
        """The whole Hessian as one ``(P, P)`` array, the parameters in ``net.params`` order,
        each flattened in C order; refused above the dense limit before anything is built."""
        names, P = list(self.net.params), self.size
        nbytes = P * P * 8
        if nbytes > get_dense_limit():
            raise MemoryLimitError(
                f"the whole Hessian of {P:,} parameters needs {nbytes:,} bytes, above the dense "
                f"limit of {get_dense_limit():,} bytes; read single blocks (H['W1', 'W1']), "
                f"use tc.hvp, or raise the limit with tc.set_dense_limit(nbytes).")
        if self._parts is not None:
            matrix = stacked_matrix(self._parts, names)
            if matrix is not None:
                return matrix
        sizes = [self.net.params[p].size for p in names]
        return np.block([[self[p, q].dense().reshape(sizes[i], sizes[j])
                          for j, q in enumerate(names)] for i, p in enumerate(names)])
