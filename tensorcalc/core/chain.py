"""The chain rule as label algebra: rename apart, identify, keep deltas as labels.

``chain(outer, inner)`` is d(outer.of)/d(inner.wrt): the input axes of ``outer`` are the output
axes of ``inner``, so their labels are identified and summed over. Because a Kronecker delta is a
label shared by the output and input side, identifying labels through a delta costs nothing, and
the contraction that follows never builds the tensors a dense chain rule would. The chain rule
distributes over sums: a chain of sums has one term per choice of a term from each.
"""

from __future__ import annotations

from ..errors import TensorcalcError
from .arithmetic import compose
from .checks import require_derivative
from .derivative import Derivative


def chain(*derivatives: Derivative) -> Derivative:
    """Compose derivatives by the chain rule, outermost first: ``chain(dC/da, da/dz, dz/dW)``.

    Shapes are checked pairwise; labels are renamed apart and joined; Kronecker deltas stay
    labels. Nothing is contracted until a value is asked for (``.dense()``, ``.compact``).
    ``chain(A, B)`` is also written ``A @ B``, and chaining is associative.

    >>> import numpy as np, tensorcalc as tc
    >>> W, a = np.arange(12.0).reshape(4, 3), np.ones(3)
    >>> g = tc.Derivative.from_array(np.ones(4), out_shape=(), in_shape=(4,), of="C", wrt="z")
    >>> dC_dW = tc.chain(g, tc.linear.derivative(W, a, wrt="W"))
    >>> dC_dW.kind, dC_dW.shape, dC_dW.spec
    ('scalar-by-matrix', (4, 3), 'i,j->ij')
    """
    if not derivatives:
        raise TensorcalcError("chain() needs at least one Derivative.")
    result = derivatives[-1]
    if len(derivatives) == 1:
        require_derivative(result, "only")
        return result
    for outer in reversed(derivatives[:-1]):
        result = compose(outer, result)
    return result
