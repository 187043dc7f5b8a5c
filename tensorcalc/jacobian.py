"""Full Jacobians of a network's output (or logits, or any layer's output) with respect to its
input or a parameter.

Built as one chain of local derivatives, outermost first, and returned uncontracted:
``.dense()`` materialises it (batched Jacobians keep the batch as a shared label, so the dense
result has the batch axis on both sides with zeros off the sample diagonal). A residual block
contributes ``I + J_f``; where a chain of such sums would multiply its terms, it is collapsed into
one contracted factor whenever that is no bigger than the terms.
"""

from __future__ import annotations

import math

from .core.arithmetic import compose
from .core.derivative import Derivative
from .core.validate import trusted
from .errors import TensorcalcError, UnknownNameError
from .layers import Activation, Softmax
from .network import Network


def chain_collapsing(parts: list[Derivative]) -> Derivative:
    """``chain(*parts)``, contracting a sum into one factor when that is no bigger than it, and
    contracting from the outside in where index relations would chain (each step then lowers
    one relation to a strided accumulation, as backprop does)."""
    if any(t.relations for d in parts for t in d.terms):
        result = parts[0]
        for inner in parts[1:]:
            result = compose(result, inner).contracted(f"d{result.of}/d{inner.wrt}")
        return result
    result = parts[-1]
    for outer in reversed(parts[:-1]):
        result = compose(outer, result)
        if len(result.terms) > 1:
            stored = sum(f.array.size for t in result.terms for f in t.factors)
            if math.prod(result.sizes[c] for c in result.result_labels) <= stored:
                result = result.contracted(f"d{result.of}/d{result.wrt}")
    return result


def own_local(rec, wrt: str) -> Derivative:
    """The local derivative of the layer at forward record ``rec`` by ``wrt`` (``"x"`` or a
    parameter symbol), from the layer itself."""
    return rec.node.layer.local(rec.ctx, wrt)


def input_derivative(rec, local=own_local) -> Derivative:
    """d(output)/d(input) of one layer on a forward pass (a residual block: I + J_f);
    ``local(rec, wrt)`` gives a layer's local derivative (by default its own)."""
    layer = rec.node.layer
    if rec.node.children:
        inner = [input_derivative(r, local) for r in reversed(rec.inner)]
        return layer.local_from(inner, rec.ctx.x.shape, rec.ctx.sym)
    return local(rec, "x")


def parts_to(records, path: tuple[int, ...], wrt: str, local=own_local) -> list[Derivative]:
    """Local derivatives from the top of ``records`` down to parameter ``wrt`` of the layer at
    ``path`` (relative to ``records``)."""
    parts = [input_derivative(r, local) for r in reversed(records[path[0]:])]
    rec = records[path[0] - 1]
    if len(path) == 1:
        return parts + [local(rec, wrt)]
    return parts + parts_to(list(rec.inner), path[1:], wrt, local)


def jacobian(net: Network, x, wrt: str = "x", of: str | int = "output") -> Derivative:
    """d(``of``)/d(``wrt``) at ``x``: ``of`` is ``"output"``, ``"logits"`` (the input of a final
    activation or softmax) or a 1-based layer index (that layer's output); ``wrt`` is ``"x"`` or
    a parameter name such as ``"W1"``.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> J = tc.jacobian(net, np.ones(3), wrt="W1", of="logits")
    >>> J.kind, J.shape
    ('vector-by-matrix', (2, 4, 3))
    >>> tc.jacobian(net, np.ones(3), of=2).shape  # a^1 by x
    (4, 3)
    """
    n = len(net.layers)
    if of == "output":
        top = n
    elif of == "logits":
        top = n - 1 if isinstance(net.layers[-1], (Activation, Softmax)) else n
    elif isinstance(of, int) and not isinstance(of, bool) and 1 <= of <= n:
        top = of
    else:
        raise UnknownNameError(f"unknown of={of!r}; valid values are 'output', 'logits' and a "
                               f"layer index 1..{n}.")
    owner = {node.names[s]: (node.path, s) for top_node in net.nodes
             for node in top_node.walk() for s in node.layer.params}
    if wrt != "x" and wrt not in owner:
        raise UnknownNameError(f"unknown wrt={wrt!r}; valid values are 'x', "
                               f"{', '.join(map(repr, net.params))}.")
    if wrt != "x" and owner[wrt][0][0] > top:
        raise TensorcalcError(f"{wrt} belongs to layer {owner[wrt][0][0]}, above layer {top} "
                              f"whose output was asked for: that derivative is zero.")
    return jacobian_at(net, net.forward(x), wrt, top)


def jacobian_at(net: Network, fw, wrt: str, top: int, local=own_local) -> Derivative:
    """:func:`jacobian` of layer ``top``'s output (1-based) on a forward pass already run;
    the arguments are not checked again (``local`` as in :func:`input_derivative`)."""
    owner = {node.names[s]: (node.path, s) for top_node in net.nodes
             for node in top_node.walk() for s in node.layer.params}
    with trusted():
        records = fw.records[:top]
        if wrt == "x":
            if not records:
                raise TensorcalcError("of=0 is the input itself; ask for a layer 1..n.")
            d = chain_collapsing([input_derivative(r, local) for r in reversed(records)])
            return Derivative._make(d.terms, d.sizes, d.of, "x", d._dtype)
        path, s = owner[wrt]
        return chain_collapsing(parts_to(records, path, s, local))
