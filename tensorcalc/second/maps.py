"""Reading derivatives as maps: a Jacobian backwards (its transpose), and a scalar's second
derivative (input ``z.shape + z.shape``) as the map from ``z`` to ``z`` it is."""

from __future__ import annotations

from ..core.algebra import canonical_sum
from ..core.derivative import Derivative
from ..core.term import Term


def transpose(d: Derivative) -> Derivative:
    """``d`` with its output and input sides swapped (d(of)/d(wrt) read as a map backwards);
    a sum's letters are made canonical again for the new axis order."""
    terms = [Term(t.factors, t.in_labels, t.out_labels, t.coef, t.relations) for t in d.terms]
    sizes = dict(d.sizes)
    if len(terms) > 1:
        terms = canonical_sum(terms, sizes)
    return Derivative._make(terms, sizes, d.wrt, d.of, d.dtype)


def as_map(d: Derivative, of: str, wrt: str) -> Derivative:
    """A second derivative of a scalar (output (), input ``z.shape + z.shape``) read as the
    map ``z -> z`` it is: the first copy's axes become the output axes."""
    k = len(d.in_shape) // 2
    terms = [Term(t.factors, t.in_labels[:k], t.in_labels[k:], t.coef, t.relations)
             for t in d.terms]
    return Derivative._make(terms, d.sizes, of, wrt, d.dtype)
