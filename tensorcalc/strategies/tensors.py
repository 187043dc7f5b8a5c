"""Strategies for arrays and derivative networks: shapes, bounded arrays, random
:class:`~tensorcalc.Derivative` networks (deltas, several factors, constant axes, sums of terms)
and chains of them."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..core.derivative import Derivative
from ..core.labels import fresh_labels
from ..core.term import Factor


def shapes(max_rank: int = 2, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes of rank 0..``max_rank`` with sides 1..``max_side``."""
    return st.lists(st.integers(1, max_side), max_size=max_rank).map(tuple)


def arrays(shape, dtype=np.float64, *, bound: float = 2.0, off_kink: float = 0.0):
    """Finite, bounded float arrays of ``shape``; with ``off_kink > 0`` every entry has
    ``|x| >= off_kink`` (keeps ReLU and leaky ReLU away from their kink at 0)."""
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    lo = max(off_kink, 0.0)
    magnitudes = st.floats(lo, bound, allow_nan=False, allow_infinity=False, width=64)
    entry = magnitudes if off_kink > 0 else st.floats(-bound, bound, width=64)
    signs = st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)
    values = st.lists(entry, min_size=n, max_size=n)
    return st.tuples(values, signs).map(
        lambda vs: (np.asarray(vs[0], dtype=np.float64)
                    * (np.asarray(vs[1]) if off_kink > 0 else 1.0)).reshape(shape).astype(dtype)
    )


@st.composite
def derivatives(draw, out_shape=None, in_shape=None, *, of: str = "y", wrt: str = "x"):
    """Random :class:`Derivative` networks of the given shapes (drawn when not given).

    The structure varies: dense factors, Kronecker deltas (an input label reusing an output label
    of the same size), several factors, and axes no factor carries (constant along them).
    """
    out_shape = draw(shapes()) if out_shape is None else tuple(out_shape)
    in_shape = draw(shapes()) if in_shape is None else tuple(in_shape)
    labels = fresh_labels(len(out_shape) + len(in_shape))
    out_l = labels[: len(out_shape)]
    sizes = dict(zip(out_l, out_shape))
    in_l = []
    for k, n in enumerate(in_shape):
        free = [c for c in out_l if sizes[c] == n and c not in in_l]
        if free and draw(st.booleans()):
            in_l.append(draw(st.sampled_from(free)))
        else:
            c = labels[len(out_shape) + k]
            sizes[c] = n
            in_l.append(c)
    distinct = list(dict.fromkeys(out_l + in_l))
    factors = []
    for k in range(draw(st.integers(0, 3))):
        subset = draw(st.lists(st.sampled_from(distinct), unique=True, max_size=len(distinct))) \
            if distinct else []
        shape = tuple(sizes[c] for c in subset)
        arr = draw(arrays(shape, bound=1.5))
        factors.append(Factor(arr, "".join(subset), f"F{k}"))
    return Derivative(tuple(factors), "".join(out_l), "".join(in_l), sizes, of, wrt)


@st.composite
def chains(draw, length: int = 3):
    """A list of ``length`` derivatives that chain: each one's input shape is the next one's
    output shape (outermost first, as :func:`tensorcalc.chain` takes them)."""
    shape_list = [draw(shapes()) for _ in range(length + 1)]
    return [
        draw(derivatives(shape_list[k], shape_list[k + 1], of=f"y{k}", wrt=f"y{k + 1}"))
        for k in range(length)
    ]


@st.composite
def sums(draw, out_shape=None, in_shape=None, *, max_terms: int = 3, of: str = "y",
         wrt: str = "x"):
    """``(total, parts, coefficients)``: a sum ``sum_k c_k D_k`` of random derivatives of one
    shape, built with ``+`` and scalar ``*``, with the parts it was built from."""
    out_shape = draw(shapes()) if out_shape is None else tuple(out_shape)
    in_shape = draw(shapes()) if in_shape is None else tuple(in_shape)
    k = draw(st.integers(1, max_terms))
    parts = [draw(derivatives(out_shape, in_shape, of=of, wrt=wrt)) for _ in range(k)]
    coefs = draw(st.lists(st.sampled_from([1.0, -1.0, 0.5, 2.0]), min_size=k, max_size=k))
    total = coefs[0] * parts[0]
    for c, d in zip(coefs[1:], parts[1:]):
        total = total + c * d
    return total, parts, coefs
