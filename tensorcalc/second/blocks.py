"""A Hessian block of a dense network as a sum of structured parts.

For ``z^l = W^l a^(l-1) + b^l``, ``a^l = f(z^l)`` and ``C = loss(f_out(z^L))``, the block by
parameters ``p`` and ``q`` is

    d2C/dp dq = J_p^T H J_q                                   (Gauss-Newton)
              + sum_l J^l_p^T diag(dC/da^l (.) f''(z^l)) J^l_q      (curvature of layer l)
              + J_p^T (sum_i dC/da_i d2a_i/dz dz) J_q    (the output activation's, unless it
                                                           is fused with the loss)
              + sum_l [delta^l (x) da^(l-1)/dq]  (p = W^l, and its transpose for q = W^l)
              + 2 c I                                        (weight decay, p = q a weight)

with ``J_p = dz^L/dp``, ``J^l_p = dz^l/dp``, ``H = (da/dz)^T d2C/da da (da/dz)`` at the
logits (a fused pair's closed form, ``diag(p) - p p^T``) and ``delta^l = dC/dz^l``:
the second derivative of each layer's bilinear map ``W a`` gives the bilinear sum. The
Gauss-Newton part is positive semi-definite for a convex loss; the curvature parts are what
make a Hessian indefinite. Every part is a chain of the structured Jacobians of the first
order, never contracted here.
"""

from __future__ import annotations

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from ..core.term import Factor
from ..core.validate import trusted
from ..intermediates import boundary_arrays as output_gradients
from ..jacobian import jacobian_at
from .loss import loss_curvature
from .maps import transpose
from .template import Template


def _diag(values: np.ndarray, symbol: str, of: str) -> Derivative:
    """The diagonal map ``v -> values (.) v`` on arrays of ``values``' shape."""
    labels = ("n" if values.ndim == 2 else "") + "i"
    return Derivative((Factor(values, labels, symbol),), labels, labels,
                      dict(zip(labels, values.shape)), of, of, _checked=True)


class Parts:
    """Everything the blocks of one network at one ``(x, y)`` share: the forward pass, the
    upstream gradients, the loss curvature and the Jacobians, built once each."""

    def __init__(self, net, tpl: Template, x, y, dense: bool = False) -> None:
        self.net, self.tpl, self.dense = net, tpl, dense
        self.fw = net.forward(x)
        self.y = net.loss_fn.targets(self.fw.output, y)
        self.batched = self.fw.x.ndim > len(net.input_shape)
        self.grads = output_gradients(net, self.fw, self.y)  # dC/d(output of layer k)
        self._jac: dict = {}
        self._left: dict = {}
        self._H = None
        self.owner = {name: u for u in tpl.units for name in u.names.values()}

    def jac(self, k: int, wrt: str) -> Derivative:
        """d(output of layer k, 1-based)/d(wrt), structured."""
        if (k, wrt) not in self._jac:
            self._jac[k, wrt] = self.local(jacobian_at(self.net, self.fw, wrt, k))
        return self._jac[k, wrt]

    def local(self, d: Derivative) -> Derivative:
        """``d`` as it is, or materialised first (``dense=True``), refused above the limit."""
        if not self.dense:
            return d
        d.check_dense_size()
        return Derivative._wrap(d.dense(), d.out_shape, d.in_shape, d.of, d.wrt)

    def reaches(self, unit, name: str) -> bool:
        """Whether parameter ``name`` acts at or before ``unit``."""
        return self.owner[name].dense <= unit.dense

    def gauss_newton(self, p: str, q: str) -> Derivative:
        top = self.tpl.last.dense + 1
        if p not in self._left:  # J_p^T H, shared by every block of row p
            self._left[p] = chain(transpose(self.jac(top, p)), self.curvatures[0])
        return chain(self._left[p], self.jac(top, q))

    @property
    def curvatures(self) -> tuple:
        """The loss's curvature at the logits: (Gauss-Newton part, output activation's)."""
        if self._H is None:
            gn, out = loss_curvature(self.net, self.fw, self.y, self.tpl.output)
            self._H = (self.local(gn), None if out is None else self.local(out))
        return self._H

    def output_curvature(self, p: str, q: str) -> Derivative | None:
        """The output activation's own curvature, seen through dz^L/dp and dz^L/dq."""
        C = self.curvatures[1]
        if C is None:
            return None
        top = self.tpl.last.dense + 1
        return chain(transpose(self.jac(top, p)), C, self.jac(top, q))

    def curvature(self, unit, p: str, q: str) -> Derivative | None:
        if unit.activation is None or not (self.reaches(unit, p) and self.reaches(unit, q)):
            return None
        rec = self.fw.records[unit.activation]
        s = rec.node.layer.primitive.second_hadamard(self.grads[unit.activation], rec.ctx.x)
        if not np.any(s):
            return None
        sym = rec.ctx.sym["in"]
        key = (unit.activation, p)
        if key not in self._left:
            D = self.local(_diag(s, f"dC/d{rec.ctx.sym['out']} (.) f''({sym})", sym))
            self._left[key] = chain(transpose(self.jac(unit.dense + 1, p)), D)
        return chain(self._left[key], self.jac(unit.dense + 1, q))

    def bilinear(self, unit, p: str, q: str) -> Derivative | None:
        """d2(W a)/dW da for ``p`` this unit's weight and ``q`` a parameter acting before it."""
        W = unit.names.get("W")
        if p != W or unit.dense == 0 or not self.owner[q].dense < unit.dense:
            return None
        rec = self.fw.records[unit.dense]
        delta = self.grads[unit.dense]
        n = "n" if self.batched else ""
        i_j = "ji" if rec.node.layer.weights == "in_out" else "ij"
        sizes = {"i": delta.shape[-1], "j": rec.ctx.x.shape[-1]} | (
            {"n": delta.shape[0]} if self.batched else {})
        E = Derivative((Factor(delta, n + "i", f"delta({rec.ctx.sym['out']})"),), i_j, n + "j",
                       sizes, f"dC/d{rec.ctx.sym['W']}", rec.ctx.sym["in"], _checked=True)
        before = unit.dense  # the output of the layer before this dense one (1-based)
        return chain(self.local(E), self.jac(before, q))

    def decay(self, p: str, q: str) -> Derivative | None:
        c = self.net.weight_decay
        if not c or p != q or p not in {u.names.get("W") for u in self.tpl.units}:
            return None
        shape = self.net.params[p].shape
        labels = "ij"[:len(shape)]
        return Derivative((Factor(np.asarray(2.0 * c), "", f"2 {c:g}"),), labels, labels,
                          dict(zip(labels, shape)), "dC/d" + self.net.symbol(p),
                          self.net.symbol(p), _checked=True)

    def block(self, p: str, q: str) -> dict[str, Derivative]:
        """The named parts of block (p, q), in the order of the module docstring."""
        with trusted():
            parts = {"Gauss-Newton": self.gauss_newton(p, q)}
            for unit in self.tpl.units:
                term = self.curvature(unit, p, q)
                if term is not None:
                    parts[f"curvature of layer {unit.activation + 1}"] = term
            term = self.output_curvature(p, q)
            if term is not None:
                parts[f"curvature of layer {len(self.net.layers)}"] = term
            for unit in self.tpl.units:
                term = self.bilinear(unit, p, q)
                if term is not None:
                    parts[f"bilinear of layer {unit.dense + 1}"] = term
                term = self.bilinear(unit, q, p)
                if term is not None:
                    parts[f"bilinear of layer {unit.dense + 1}"] = transpose(term)
            term = self.decay(p, q)
            if term is not None:
                parts["weight decay"] = term
        of, wrt = "dC/d" + self.net.symbol(p), self.net.symbol(q)
        return {k: Derivative._make(d.terms, d.sizes, of, wrt, d.dtype) for k, d in parts.items()}
