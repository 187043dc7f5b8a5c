"""Full Jacobians of a network's output (or logits) with respect to its input or a parameter.

Built as one chain of local derivatives, outermost first, and returned uncontracted: ``.dense()``
materialises it (batched Jacobians keep the batch as a shared label, so the dense result has the
batch axis on both sides with zeros off the sample diagonal).
"""

from __future__ import annotations

from .backprop import local_derivatives
from .chain import chain
from .derivative import Derivative
from .errors import UnknownNameError
from .network import Network
from .primitives import linear


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
    local, fw = local_derivatives(net, x)
    L = net.depth
    stop = 1 if wrt == "x" else int(wrt[1:])
    parts = [local["act", L]] if of == "output" else []
    for l in range(L, stop, -1):
        parts += [local["a", l], local["act", l - 1]]
    if wrt == "x":
        params = net.params
        names = {"W": "W^1", "a": "x", "b": "b^1", "out": "z^1"}
        parts.append(linear.derivative(params["W1"], fw.a[0], params.get("b1"), wrt="a",
                                       names=names))
    else:
        parts.append(local[wrt[0], stop])
    return chain(*parts)
