"""Full Jacobians of a network's output (or logits) with respect to its input or a parameter.

Built as one chain of local derivatives, outermost first, and returned uncontracted: ``.dense()``
materialises it (batched Jacobians keep the batch as a shared label, so the dense result has the
batch axis on both sides with zeros off the sample diagonal).
"""

from __future__ import annotations

from ._validate import trusted
from .chain import chain
from .derivative import Derivative
from .errors import UnknownNameError
from .network import Network
from .primitives import linear


def _layer_names(l: int) -> dict[str, str]:
    return {"W": f"W^{l}", "a": f"a^{l - 1}" if l > 1 else "x", "b": f"b^{l}", "out": f"z^{l}"}


def jacobian(net: Network, x, wrt: str = "x", of: str = "output") -> Derivative:
    """d(``of``)/d(``wrt``) at ``x``: ``of`` is ``"output"`` (a^L) or ``"logits"`` (z^L);
    ``wrt`` is ``"x"`` or a parameter name such as ``"W1"``.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> J = tc.jacobian(net, np.ones(3), wrt="W1", of="logits")
    >>> J.kind, J.shape
    ('vector-by-matrix', (2, 4, 3))
    """
    if of not in ("output", "logits"):
        raise UnknownNameError(f"unknown of={of!r}; valid values are 'output' and 'logits'.")
    if wrt != "x" and wrt not in net.params:
        raise UnknownNameError(f"unknown wrt={wrt!r}; valid values are 'x', "
                               f"{', '.join(map(repr, net.params))}.")
    fw = net.forward(x)
    L, P = net.depth, net.params
    stop = 1 if wrt == "x" else int(wrt[1:])
    with trusted():
        parts = []
        if of == "output":
            parts.append(net.activation(L).derivative(
                fw.z[L], names={"z": f"z^{L}", "out": f"a^{L}"}))
        for l in range(L, stop, -1):
            parts.append(linear.derivative(P[f"W{l}"], fw.a[l - 1], P.get(f"b{l}"), wrt="a",
                                           names=_layer_names(l)))
            parts.append(net.activation(l - 1).derivative(
                fw.z[l - 1], names={"z": f"z^{l - 1}", "out": f"a^{l - 1}"}))
        arg = "a" if wrt == "x" else wrt[0]
        parts.append(linear.derivative(P[f"W{stop}"], fw.a[stop - 1], P.get(f"b{stop}"),
                                       wrt=arg, names=_layer_names(stop)))
        return chain(*parts)
