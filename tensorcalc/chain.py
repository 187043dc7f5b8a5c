"""The chain rule as label algebra: rename apart, identify, keep deltas as labels.

``chain(outer, inner)`` is d(outer.of)/d(inner.wrt): the input axes of ``outer`` are the output
axes of ``inner``, so their labels are identified and summed over. Because a Kronecker delta is a
label shared by the output and input side, identifying labels through a delta costs nothing, and
the contraction that follows never builds the tensors a dense chain rule would.
"""

from __future__ import annotations

import numpy as np

from ._validate import readonly
from .derivative import Derivative, Factor
from .errors import ShapeMismatchError, TensorcalcError
from .labels import fresh_labels


def _describe(d: Derivative) -> str:
    return f"d{d.of}/d{d.wrt} ({d.kind}, out {d.out_shape}, in {d.in_shape})"


def _require_derivative(d: object, name: str) -> None:
    if not isinstance(d, Derivative):
        raise TensorcalcError(
            f"chain() takes Derivative objects; the {name} argument is a {type(d).__name__}. "
            f"Wrap arrays with tc.Derivative.from_array(arr, out_shape=..., in_shape=...)."
        )


def _check_fit(outer: Derivative, inner: Derivative) -> None:
    _require_derivative(outer, "outer")
    _require_derivative(inner, "inner")
    if outer.in_shape == inner.out_shape:
        return
    hint = ""
    if inner.in_shape == outer.out_shape:
        hint = " The reverse order fits: chain() takes the outermost derivative first."
    raise ShapeMismatchError(
        f"cannot chain {_describe(outer)} with {_describe(inner)}: the outer derivative's input "
        f"shape {outer.in_shape} must equal the inner derivative's output shape "
        f"{inner.out_shape}. An inner derivative of something of shape {outer.in_shape} "
        f"would fit.{hint}"
    )


def _chain2(outer: Derivative, inner: Derivative) -> Derivative:
    _check_fit(outer, inner)
    outer_labels = set(outer.sizes)
    taken = outer_labels | set(inner.sizes)
    rename = {}
    for c in inner.sizes:
        if c in outer_labels:
            (rename[c],) = fresh_labels(1, taken)
            taken.add(rename[c])
        else:
            rename[c] = c

    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    order = {c: k for k, c in enumerate(outer.out_labels + outer.in_labels)}
    for a, b in zip(outer.in_labels, (rename[c] for c in inner.out_labels)):
        ra, rb = find(a), find(b)
        if ra != rb:
            keep, drop = sorted((ra, rb), key=lambda c: order.get(c, len(order)))
            parent[drop] = keep

    def sub(labels: str, mapping: dict[str, str] | None = None) -> str:
        return "".join(find(mapping[c] if mapping else c) for c in labels)

    factors = [Factor(f.array, sub(f.labels), f.symbol) for f in outer.factors]
    factors += [Factor(f.array, sub(f.labels, rename), f.symbol) for f in inner.factors]
    out_labels, in_labels = sub(outer.out_labels), sub(inner.in_labels, rename)
    sizes = {find(c): n for c, n in outer.sizes.items()}
    sizes.update({find(rename[c]): n for c, n in inner.sizes.items()})

    used = {c for f in factors for c in f.labels} | set(out_labels) | set(in_labels)
    for c in sorted({find(c) for c in outer.in_labels} - used):
        factors.append(Factor(_ones_sum(sizes[c], outer, inner), "", f"{sizes[c]}"))
    sizes = {c: n for c, n in sizes.items() if c in used}
    return Derivative(tuple(factors), out_labels, in_labels, sizes, outer.of, inner.wrt,
                      _checked=True, _dtype=np.result_type(outer.dtype, inner.dtype))


def _ones_sum(n: int, outer: Derivative, inner: Derivative) -> np.ndarray:
    """A summed label that no factor carries contributes sum_k 1 = n."""
    return readonly(np.asarray(float(n), dtype=np.result_type(outer.dtype, inner.dtype)))


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
        _require_derivative(result, "only")
        return result
    for outer in reversed(derivatives[:-1]):
        result = _chain2(outer, result)
    return result
