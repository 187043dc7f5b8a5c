"""Every block of a network's Hessian: a mapping keyed by parameter pairs, each block built
when it is first read, and the whole Hessian as one ``(P, P)`` matrix.

The matrix takes its Gauss-Newton part from one product. With ``G`` the per-sample Jacobian
of the logits by every parameter (``J_p`` of each block, contracted to (sample, logit,
parameter entry)) and ``H_n`` the loss's curvature at sample ``n``'s logits,

    sum_n G_n^T H_n G_n  =  G^T (H G)        one (P x NK) by (NK x P) matrix product,

where the blocks would each contract their own ``J_p^T H J_q``. The other parts (the curvature
of each hidden activation, the bilinear terms, weight decay) are added block by block; they
are small and carry deltas. ``G`` holds ``N K P`` entries, so this route is taken when that is
no more than the ``P x P`` result (``N K <= P``); otherwise the blocks are assembled.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.limits import get_dense_limit
from ..errors import MemoryLimitError
from .blocks import Parts


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
            matrix = _stacked_matrix(self._parts, names)
            if matrix is not None:
                return matrix
        sizes = [self.net.params[p].size for p in names]
        return np.block([[self[p, q].dense().reshape(sizes[i], sizes[j])
                          for j, q in enumerate(names)] for i, p in enumerate(names)])


def _stacked_matrix(parts: Parts, names: list[str]) -> np.ndarray | None:
    """The matrix with its Gauss-Newton part as one product (module docstring), or None when
    the per-sample Jacobian would hold more entries than the matrix."""
    top = parts.tpl.top + 1
    jacobians = [parts.jac(top, p) for p in names]
    out_shape = jacobians[0].out_shape
    n = out_shape[0] if parts.batched else 1
    k = int(np.prod(out_shape)) // n
    sizes = [parts.net.params[p].size for p in names]
    P = sum(sizes)
    if n * k > P:
        return None
    G = np.concatenate([J.dense().reshape(n, k, s) for J, s in zip(jacobians, sizes)], axis=2)
    H = _sample_curvature(parts, n, k)
    matrix = G.reshape(n * k, P).T @ np.matmul(H, G).reshape(n * k, P)
    edges = np.cumsum([0] + sizes)
    for i, p in enumerate(names):
        for j in range(i, len(names)):
            q = names[j]
            for d in parts.block(p, q, logits=False).values():
                value = d.dense().reshape(sizes[i], sizes[j])
                matrix[edges[i]:edges[i + 1], edges[j]:edges[j + 1]] += value
                if j != i:
                    matrix[edges[j]:edges[j + 1], edges[i]:edges[i + 1]] += value.T
    return matrix


def _sample_curvature(parts: Parts, n: int, k: int) -> np.ndarray:
    """The loss's curvature at each sample's logits, ``(n, k, k)`` (the Gauss-Newton part
    and the output activation's own)."""
    gn, out = parts.curvatures
    total = gn if out is None else gn + out
    dense = total.dense()
    if not parts.batched:
        return dense.reshape(1, k, k)
    return np.einsum("nink->nik", dense.reshape(n, k, n, k))

