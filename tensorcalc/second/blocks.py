"""A Hessian block of a stack of layers as a sum of structured parts.

For a stack of bilinear layers ``z^l = B(W^l, a^(l-1)) + b^l`` (dense, convolution), activations
``a^l = f(z^l)``, linear layers (flatten, pooling, dropout) and ``C = loss(f_out(z^L))``, the
block by parameters ``p`` and ``q`` is

    d2C/dp dq = J_p^T H J_q                                   (Gauss-Newton)
              + sum_l J^l_p^T diag(dC/da^l (.) f''(z^l)) J^l_q      (curvature of layer l)
              + J_p^T (sum_i dC/da_i d2a_i/dz dz) J_q    (the output activation's, unless it
                                                           is fused with the loss)
              + sum_l [delta^l (x) da^(l-1)/dq]  (p = W^l, and its transpose for q = W^l)
              + 2 c I                                        (weight decay, p = q a weight)

with ``J_p = dz^L/dp``, ``J^l_p = dz^l/dp``, ``H = (da/dz)^T d2C/da da (da/dz)`` at the
logits (a fused pair's closed form, ``diag(p) - p p^T``) and ``delta^l = dC/dz^l``:
the second derivative of each layer's bilinear map gives the bilinear sum (for a dense layer a
structured ``delta (x) da/dq``; for a convolution its backward applied to each column of
``da/dq``). The Gauss-Newton part is positive semi-definite for a convex loss; the curvature
parts are what make a Hessian indefinite. A hidden softmax or a norm contributes its own
curvature as a full map ``M`` in place of the diagonal (``J^l_p^T M J^l_q``,
:mod:`tensorcalc.second.curved`), and a norm's ``gamma`` a bilinear term ``g (.) dxhat/dx``.
Layers inside residual blocks sit at their own positions (paths): the Jacobians of their input
run through the block's inner layers and its skip path. Every other part is a chain of the
structured Jacobians of the first order, never contracted here.
"""

from __future__ import annotations

import numpy as np

from ..core.chain import chain
from ..core.derivative import Derivative
from ..core.validate import trusted
from ..intermediates import back_through
from ..intermediates import boundary_arrays as output_gradients
from ..jacobian import chain_collapsing, input_derivative, jacobian_at, parts_to
from ..layers import Dense
from .leaves import Leaves
from .maps import transpose
from .template import Template, where

#: A curvature part with more terms than this (a norm's five terms through the three of an
#: earlier norm's Jacobian on each side) is contracted to one factor, no larger than its block.
MAX_TERMS = 9


class Parts(Leaves):
    """Everything the blocks of one network at one ``(x, y)`` share: the forward pass, the
    upstream gradients, the loss curvature and the Jacobians, built once each from the leaves
    (:mod:`tensorcalc.second.leaves`)."""

    def __init__(self, net, tpl: Template, x, y, dense: bool = False) -> None:
        self.net, self.tpl, self.dense = net, tpl, dense
        self.fw = net.forward(x)
        self.y = net.loss_fn.targets(self.fw.output, y)
        self.batched = self.fw.x.ndim > len(net.input_shape)
        self.grads = output_gradients(net, self.fw, self.y)  # dC/d(output of layer k)
        self._inner: dict = {}  # dC/d(output) and d(input)/dp at positions inside blocks
        self._jac: dict = {}
        self._left: dict = {}
        self.owner = {name: u for u in tpl.units for name in u.names.values()}

    def jac(self, k: int, wrt: str) -> Derivative:
        """d(output of layer k, 1-based)/d(wrt), structured."""
        if (k, wrt) not in self._jac:
            self._jac[k, wrt] = self.local(jacobian_at(self.net, self.fw, wrt, k,
                                                              self.local_of))
        return self._jac[k, wrt]

    def local(self, d: Derivative) -> Derivative:
        """``d`` as it is, or materialised first (``dense=True``), refused above the limit."""
        if not self.dense:
            return d
        d.check_dense_size()
        return Derivative._wrap(d.dense(), d.out_shape, d.in_shape, d.of, d.wrt)

    def reaches(self, pos: tuple, name: str) -> bool:
        """Whether parameter ``name`` acts before the layer at ``pos`` (reaches its input)."""
        return self.owner[name].pos < pos

    def rec(self, pos: tuple):
        """The forward record of the layer at ``pos``."""
        rec = self.fw.records[pos[0]]
        for j in pos[1:]:
            rec = rec.inner[j]
        return rec

    def grad(self, pos: tuple) -> np.ndarray:
        """dC/d(output of the layer at ``pos``); inside a block, by the block's inner layers
        from the block's output (the skip path reaches only the block's input)."""
        if len(pos) == 1:
            return self.grads[pos[0]]
        if ("g", pos) not in self._inner:
            g = self.grad(pos[:-1])
            for r in reversed(self.rec(pos[:-1]).inner[pos[-1] + 1:]):
                g = back_through(r, g)
            self._inner["g", pos] = g
        return self._inner["g", pos]

    def jac_in(self, pos: tuple, p: str) -> Derivative:
        """d(input of the layer at ``pos``)/dp, structured; ``p`` must reach it."""
        if len(pos) == 1:
            return self.jac(pos[0], p)
        if ("J", pos, p) not in self._inner:
            inner, j, depth = list(self.rec(pos[:-1]).inner), pos[-1], len(pos) - 1
            owner = self.owner[p]
            with trusted():
                if owner.pos[:depth] == pos[:-1]:  # inside this block, before pos
                    symbol = next(s for s, n in owner.names.items() if n == p)
                    rel = tuple(k + 1 for k in owner.pos[depth:])
                    d = chain_collapsing(parts_to(inner[:j], rel, symbol, self.local_of))
                else:  # before the block: through the inner layers below pos
                    d = chain_collapsing([input_derivative(r, self.local_of)
                                          for r in reversed(inner[:j])]
                                         + [self.jac_in(pos[:-1], p)])
            self._inner["J", pos, p] = self.local(d)
        return self._inner["J", pos, p]

    def gauss_newton(self, p: str, q: str) -> Derivative:
        top = self.tpl.top + 1
        if p not in self._left:  # J_p^T H, shared by every block of row p
            self._left[p] = chain(transpose(self.jac(top, p)), self.curvatures[0])
        return chain(self._left[p], self.jac(top, q))

    @property
    def curvatures(self) -> tuple:
        """The loss's curvature at the logits: (Gauss-Newton part, output activation's)."""
        gn, out = self.leaf(("H", 0)), self.leaf(("H", 1))
        return self.local(gn), None if out is None else self.local(out)

    def output_curvature(self, p: str, q: str) -> Derivative | None:
        """The output activation's own curvature, seen through dz^L/dp and dz^L/dq."""
        C = self.curvatures[1]
        if C is None:
            return None
        top = self.tpl.top + 1
        return chain(transpose(self.jac(top, p)), C, self.jac(top, q))

    def curvature(self, k: tuple, p: str, q: str) -> Derivative | None:
        """The own curvature of the activation at ``k``, through the Jacobians of its input."""
        if not (self.reaches(k, p) and self.reaches(k, q)):
            return None
        if not self.nonzero(("s", k)):
            return None
        if (k, p) not in self._left:
            D = self.local(self.leaf(("s", k)))
            self._left[k, p] = chain(transpose(self.jac_in(k, p)), D)
        return chain(self._left[k, p], self.jac_in(k, q))

    def curved(self, k: tuple, p: str, q: str) -> Derivative | None:
        """The own curvature of a hidden softmax or a norm at ``k`` (a full map on its input,
        :mod:`tensorcalc.second.curved`), through the Jacobians of its input."""
        if not (self.reaches(k, p) and self.reaches(k, q)):
            return None
        if (k, "map") not in self._left:
            self._left[k, "map"] = self.local(self.leaf(("map", k)))
        if (k, p) not in self._left:
            self._left[k, p] = chain(transpose(self.jac_in(k, p)), self._left[k, "map"])
        part = chain(self._left[k, p], self.jac_in(k, q))
        if len(part.terms) > MAX_TERMS:  # norms behind norms: terms multiply; contract once
            part = part.contracted(f"curvature of {self.rec(k).ctx.sym['in']}")
        return part

    def bilinear(self, unit, p: str, q: str) -> Derivative | None:
        """d2(B(theta, x))/dtheta dx of a bilinear layer, for ``p`` its weight and ``q`` a
        parameter acting before it: the weight's gradient is linear in the layer's input."""
        if unit.kind == "norm":
            if p != unit.names["gamma"] or not self.reaches(unit.pos, q):
                return None
            E = self.local(self.leaf(("gamma", unit.pos)))
            return chain(E, self.jac_in(unit.pos, q))
        weight = unit.names.get("W", unit.names.get("K"))
        if not unit.bilinear or p != weight or not self.reaches(unit.pos, q):
            return None
        rec = self.rec(unit.pos)
        if isinstance(rec.node.layer, Dense):
            E = self.local(self.leaf(("mixed", unit.pos)))
            return chain(E, self.jac_in(unit.pos, q))
        return self._columns(rec, unit, p, q)

    def _columns(self, rec, unit, p: str, q: str) -> Derivative:
        """The same term for a convolution, column by column: the kernel's gradient with the
        layer's input replaced by d(input)/dq_j (the shortcut backward is linear in it)."""
        J = self.jac_in(unit.pos, q).dense()  # d(input of the layer)/dq
        q_shape = self.net.params[q].shape
        columns = J.reshape(rec.ctx.x.shape + (-1,))
        delta = self.grad(unit.pos)
        symbol = {"W": "W", "K": "K"}[next(s for s, n in unit.names.items() if n == p)]
        out = np.stack([rec.node.layer.backward(delta, rec.ctx._replace(
            x=columns[..., j]), want_input=False)[1][symbol] for j in range(columns.shape[-1])],
            axis=-1)
        value = out.reshape(self.net.params[p].shape + q_shape)
        return Derivative._wrap(value, self.net.params[p].shape, q_shape,
                                f"dC/d{self.net.symbol(p)}", self.net.symbol(q))

    def decay(self, p: str, q: str) -> Derivative | None:
        decayed = {u.names[s] for u in self.tpl.units for s in u.layer.decay}
        if not self.net.weight_decay or p != q or p not in decayed:
            return None
        return self.leaf(("decay", p))

    def block(self, p: str, q: str, logits: bool = True) -> dict[str, Derivative]:
        """The named parts of block (p, q), in the order of the module docstring (without the
        two that go through the logits' curvature, Gauss-Newton and the output activation's,
        when ``logits`` is False)."""
        with trusted():
            parts = {"Gauss-Newton": self.gauss_newton(p, q)} if logits else {}
            for k in sorted(self.tpl.activations + self.tpl.curved):
                term = (self.curvature if k in self.tpl.activations else self.curved)(k, p, q)
                if term is not None:
                    parts[f"curvature of {where(self.net, k)}"] = term
            term = self.output_curvature(p, q) if logits else None
            if term is not None:
                parts[f"curvature of layer {len(self.net.layers)}"] = term
            for unit in self.tpl.units:
                term = self.bilinear(unit, p, q)
                if term is not None:
                    parts[f"bilinear of {where(self.net, unit.pos)}"] = term
                term = self.bilinear(unit, q, p)
                if term is not None:
                    parts[f"bilinear of {where(self.net, unit.pos)}"] = transpose(term)
            term = self.decay(p, q)
            if term is not None:
                parts["weight decay"] = term
        of, wrt = "dC/d" + self.net.symbol(p), self.net.symbol(q)
        return {k: Derivative._make(d.terms, d.sizes, of, wrt, d.dtype) for k, d in parts.items()}
