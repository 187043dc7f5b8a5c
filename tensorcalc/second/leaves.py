"""The leaves of a Hessian's parts: every derivative the second-order chain starts from, built
once each and named by a key, so that a recorded computation can be replayed on the leaves of
a new forward pass (:mod:`tensorcalc.core.program`).

The keys: ``("local", path, wrt)`` a layer's local derivative (as first-order backprop uses
it); ``("s", pos)`` an activation's ``dC/da (.) f''(z)``; ``("map", pos)`` a hidden softmax's or
norm's own curvature; ``("gamma", pos)`` a norm's gamma-by-input term; ``("mixed", pos)`` a dense
layer's weight-by-input term; ``("H", 0)`` and ``("H", 1)`` the loss's curvature at the logits
(the Gauss-Newton part and the output activation's own); ``("decay", name)`` weight decay's
``2c``. A leaf that was all zeros, so that its part was left out, is noted in :attr:`absent`:
a replay is valid only where it is still all zeros.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Factor
from .curved import curvature_map, gamma_input
from .loss import loss_curvature


def diagonal(values: np.ndarray, symbol: str, of: str) -> Derivative:
    """The diagonal map ``v -> values (.) v`` on arrays of ``values``' shape."""
    labels = "nihwuv"[:values.ndim] if values.ndim > 1 else "i"
    return Derivative((Factor(values, labels, symbol),), labels, labels,
                      dict(zip(labels, values.shape)), of, of, _checked=True)


def _walk(records):
    for rec in records:
        yield rec
        yield from _walk(rec.inner)


class Leaves:
    """Leaf derivatives by key, for :class:`~tensorcalc.second.blocks.Parts` (which supplies
    ``net``, ``fw``, ``y``, ``tpl``, ``batched``, ``rec(pos)`` and ``grad(pos)``)."""

    def leaf(self, key: tuple):
        """The leaf named ``key`` (a Derivative, or None for ``("H", 1)`` without an output
        activation's own curvature), built once."""
        leaves = self.__dict__.setdefault("_leaves", {})
        if key not in leaves:
            leaves[key] = self._produce(key)
        return leaves[key]

    def leaf_arrays(self, keys) -> dict:
        """``key -> operand arrays`` of the leaves named ``keys``: a layer's local derivative
        not built yet straight from the layer (``local_arrays``, the same arrays in the same
        order), any other leaf built if need be."""
        built = self.__dict__.get("_leaves", {})
        out = {}
        for key in keys:
            if key[0] == "local" and key not in built:
                rec = self._record(key[1])
                out[key] = rec.node.layer.local_arrays(rec.ctx, key[2])
                continue
            d = self.leaf(key)
            out[key] = [] if d is None else [a for t in d.terms for a in t.operand_arrays()]
        return out

    def built_leaves(self) -> dict:
        """``key -> operand arrays`` of every leaf built so far."""
        return self.leaf_arrays(list(self.__dict__.get("_leaves", {})))

    @property
    def absent(self) -> set:
        """Keys of leaves found all zeros (their parts left out)."""
        return self.__dict__.setdefault("_absent", set())

    def nonzero(self, key: tuple) -> bool:
        """Whether leaf ``key`` (one factor) has a non-zero entry; if not, it is noted."""
        if np.any(self.leaf(key).terms[0].factors[0].array):
            return True
        self.absent.add(key)
        return False

    def local_of(self, rec, wrt: str) -> Derivative:
        """The local derivative of the layer at ``rec`` by ``wrt``, as a leaf."""
        return self.leaf(("local", rec.node.path, wrt))

    def _record(self, path: tuple):
        """The forward record of the layer at ``path`` (1-based, as ``node.path``)."""
        by_path = self.__dict__.get("_by_path")
        if by_path is None:
            by_path = self.__dict__["_by_path"] = {r.node.path: r for r in _walk(self.fw.records)}
        return by_path[path]

    def _produce(self, key: tuple):
        kind = key[0]
        if kind == "local":
            rec = self._record(key[1])
            return rec.node.layer.local(rec.ctx, key[2])
        if kind == "H":
            pair = self.__dict__.get("_H")
            if pair is None:
                pair = loss_curvature(self.net, self.fw, self.y, self.tpl.output)
                self.__dict__["_H"] = pair
            return pair[key[1]]
        if kind == "decay":
            return self._decay_leaf(key[1])
        rec = self.rec(key[1])
        g = self.grad(key[1])
        if kind == "s":
            s = rec.node.layer.primitive.second_hadamard(g, rec.ctx.x)
            sym = rec.ctx.sym["in"]
            return diagonal(s, f"dC/d{rec.ctx.sym['out']} (.) f''({sym})", sym)
        if kind == "map":
            return curvature_map(rec, g)
        if kind == "gamma":
            return gamma_input(rec, g)
        return self._dense_mixed(rec, g)

    def _decay_leaf(self, name: str) -> Derivative:
        c, shape = self.net.weight_decay, self.net.params[name].shape
        labels = "ijkl"[:len(shape)]
        value = np.asarray(2.0 * c, dtype=self.net.dtype)  # a float32 network stays float32
        return Derivative((Factor(value, "", f"2 {c:g}"),), labels, labels,
                          dict(zip(labels, shape)), "dC/d" + self.net.symbol(name),
                          self.net.symbol(name), _checked=True)

    def _dense_mixed(self, rec, delta: np.ndarray) -> Derivative:
        """d(dC/dW)/da at fixed delta: ``delta_ni delta_jk`` (transposed for (in, out))."""
        n = "n" if self.batched else ""
        i_j = "ji" if rec.node.layer.weights == "in_out" else "ij"
        sizes = {"i": delta.shape[-1], "j": rec.ctx.x.shape[-1]} | (
            {"n": delta.shape[0]} if self.batched else {})
        return Derivative((Factor(delta, n + "i", f"delta({rec.ctx.sym['out']})"),), i_j,
                          n + "j", sizes, f"dC/d{rec.ctx.sym['W']}", rec.ctx.sym["in"],
                          _checked=True)
