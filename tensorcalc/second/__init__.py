"""Second order: Hessian blocks as derivatives of derivatives, kept structured.

``hessian(net, x, y, wrt=("W1", "W2"))`` is the block d2C/dW^1 dW^2 as a sum of parts (the
Gauss-Newton term, one curvature term per activation, the bilinear terms of the dense and
convolution layers, weight decay; see :mod:`tensorcalc.second.blocks`), each a chain of the first
order's structured Jacobians; ``hessian(net, x, y)`` maps every pair to its block, and its
``.matrix()`` is the whole Hessian in one array (:mod:`tensorcalc.second.whole`); ``hvp`` and
``ggn_vp`` apply the Hessian and the Gauss-Newton
matrix to a direction without building any block. The chains start from named leaves
(:mod:`tensorcalc.second.leaves`), so that a block's or the matrix's contractions, recorded once
per structure, are replayed on a new forward pass (:mod:`tensorcalc.second.replay`).
"""

from __future__ import annotations

from .hessian import gauss_newton, hessian, hessian_parts
from .products import ggn_vp, hvp

__all__ = ["gauss_newton", "ggn_vp", "hessian", "hessian_parts", "hvp"]
