"""``tc.hessian``, ``tc.gauss_newton`` and ``tc.hessian_parts``: blocks by parameter pairs,
three ways (the structured chain, every part materialised, central differences of the
gradient)."""

from __future__ import annotations

import numpy as np

from ..backprop import backprop
from ..core.derivative import Derivative
from ..errors import TensorcalcError, UnknownNameError
from ..numeric import numerical_derivative
from .blocks import Parts
from .maps import transpose
from .parts import HessianParts, sum_parts
from .products import ggn_vp, hvp
from .replay import replayed, structure
from .template import structured_only, template
from .whole import HessianBlocks

METHODS = ("full", "dense", "numeric")


def _pairs(net, wrt) -> list[tuple[str, str]]:
    """The blocks ``wrt`` names: a name, a tuple pair, or None (every block). A list is
    refused, even one of two names: one block is a pair ``(p, q)``, a tuple."""
    names = list(net.params)
    if wrt is None:
        return [(p, q) for p in names for q in names]
    if isinstance(wrt, list):
        raise TensorcalcError(f"wrt is a list, {wrt!r}; one block is a parameter name or a "
                              f"tuple of two (wrt=('W1', 'W2')), every block is wrt=None: pass "
                              f"a tuple, and call once per pair for several blocks; the "
                              f"parameters are {names}.")
    pair = (wrt, wrt) if isinstance(wrt, str) else tuple(wrt)
    if len(pair) != 2 or any(n not in net.params for n in pair):
        raise UnknownNameError(f"wrt must be a parameter name, a pair of them or None (every "
                               f"block); got {wrt!r}; the parameters are {names}.")
    return [pair]


def hessian_parts(net, x, y, wrt) -> HessianParts:
    """The named parts of one block (``wrt`` a name or a pair): ``"Gauss-Newton"``,
    ``"curvature of layer l"``, ``"bilinear of layer l"`` (a layer inside a residual block by
    its place, ``layer 2.3``), ``"weight decay"``; their sum is
    :func:`hessian`'s block. Printed, each part's entry formula in index notation;
    ``.latex()`` the same as a LaTeX ``align`` block.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> list(tc.hessian_parts(net, np.ones(3), np.zeros(2), "W1"))
    ['Gauss-Newton', 'curvature of layer 2', 'curvature of layer 4']
    """
    ((p, q),) = _pairs(net, wrt)
    tpl = template(net)
    structured_only(net, tpl)
    return HessianParts(Parts(net, tpl, x, y).block(p, q),
                        "dC/d" + net.symbol(p), net.symbol(q))


def hessian(net, x, y, wrt=None, method: str = "full"):
    """The block d2C/dp dq of the loss by parameters ``p``, ``q`` (``wrt="W1"`` for (W1, W1),
    ``wrt=("W1", "W2")`` for a cross block; ``None``: every block, as a mapping keyed by
    pairs, each block built when first read, with ``.matrix()`` the whole Hessian as one
    array: see :class:`~tensorcalc.second.whole.HessianBlocks`), a
    :class:`~tensorcalc.Derivative` of shape ``p.shape + q.shape`` (``W1`` by ``W1`` is a
    ``matrix-by-matrix``). ``method`` is ``"full"`` (the structured second-order chain: a
    sum of parts, see :func:`hessian_parts`), ``"dense"`` (every part materialised first,
    refused above the dense limit) or ``"numeric"`` (central differences of the gradient).
    Every built-in layer kind has structured parts (residual blocks walked into); for a
    network with a layer kind that has none (one a user writes) ``"full"`` and ``"dense"``
    build the block from exact Hessian-vector products, one column per entry of ``q``.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> H = tc.hessian(net, np.ones(3), np.zeros(2), wrt="W1")
    >>> H.kind, H.shape
    ('matrix-by-matrix', (4, 3, 4, 3))
    >>> bool(np.allclose(H.dense(), tc.hessian(net, np.ones(3), np.zeros(2), "W1",
    ...                                           method="numeric").dense(), atol=1e-6))
    True
    """
    if method not in METHODS:
        raise UnknownNameError(f"unknown method {method!r}; valid methods are "
                               f"{', '.join(map(repr, METHODS))}.")
    pairs = _pairs(net, wrt)
    parts = None
    if method == "numeric":
        def build(pair, built):
            return _numeric(net, x, y, [pair])[pair]
    elif template(net).generic:  # a layer without structured parts: exact products
        def build(pair, built):
            return _columns(net, x, y, [pair], hvp)[pair]
    else:
        parts = Parts(net, template(net), x, y, dense=method == "dense")

        def build(pair, built):  # block (q, p) is the transpose of block (p, q)
            p, q = pair
            if (q, p) in built and p != q:
                return _swapped(built[q, p])
            return _block(parts, p, q)
    blocks = HessianBlocks(net, pairs, build, parts if method == "full" else None)
    if wrt is None:
        return blocks
    return blocks[pairs[0]]


def _block(parts: Parts, p: str, q: str) -> Derivative:
    """The sum of block (p, q)'s parts, its chain built once per structure and replayed."""
    def build(rec):
        return [sum_parts(parts.block(p, q))], None, True

    _, (block,), _ = replayed(parts, structure(parts, "block", p, q), build)
    return block


def gauss_newton(net, x, y, wrt=None):
    """The Gauss-Newton term ``J^T H J`` of the block(s) alone (plus weight decay's ``2c I``),
    as :func:`hessian` returns them.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> G = tc.gauss_newton(net, np.ones(3), np.zeros(2), wrt="W2").dense().reshape(8, 8)
    >>> bool(np.all(np.linalg.eigvalsh(G) > -1e-12))  # positive semi-definite
    True
    """
    if template(net).generic:
        blocks = _columns(net, x, y, _pairs(net, wrt), ggn_vp)
        return blocks if wrt is None else next(iter(blocks.values()))
    parts = Parts(net, template(net), x, y)
    blocks = {}
    for p, q in _pairs(net, wrt):
        block = parts.block(p, q)
        blocks[p, q] = sum_parts({k: d for k, d in block.items()
                               if k in ("Gauss-Newton", "weight decay")})
    return blocks if wrt is None else next(iter(blocks.values()))


def _columns(net, x, y, pairs, product) -> dict:
    """Blocks from exact Hessian- (or Gauss-Newton-) vector products, one column per entry of
    each ``q``: for networks with a layer kind that has no structured parts."""
    wanted = {q for _, q in pairs}
    columns: dict = {}
    for q in wanted:
        shape = net.params[q].shape
        for j in range(int(np.prod(shape))):
            unit = np.zeros(shape)
            unit.flat[j] = 1.0
            columns[q, j] = product(net, x, y, {q: unit})
    blocks = {}
    for p, q in pairs:
        n = int(np.prod(net.params[q].shape))
        value = np.stack([columns[q, j][p] for j in range(n)], axis=-1)
        value = value.reshape(net.params[p].shape + net.params[q].shape)
        blocks[p, q] = Derivative._wrap(value, net.params[p].shape, net.params[q].shape,
                                        "dC/d" + net.symbol(p), net.symbol(q))
    return blocks


def _swapped(block: Derivative) -> Derivative:
    """Block (p, q) from block (q, p): the same terms read the other way round."""
    d = transpose(block)
    return Derivative._make(d.terms, d.sizes, "dC/d" + block.wrt, block.of[4:], block.dtype)


def _numeric(net, x, y, pairs) -> dict:
    out = {}
    for p, q in pairs:
        def grad(value, p=p, q=q):
            return backprop(net.with_param(q, value), x, y, "full")[p].dense()

        D = numerical_derivative(grad, net.params[q], of=f"dC/d{net.symbol(p)}",
                                 wrt=net.symbol(q))
        out[p, q] = D
    return out
