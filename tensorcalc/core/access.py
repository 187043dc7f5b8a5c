"""Reading numbers out of a derivative: a layout's array that keeps its labels, and indexing
into the canonical tensor (entries, or sub-derivatives for leading whole-number indices)."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeMismatchError
from . import layout as _layout
from .evaluate import contract_terms
from .validate import as_float_array


class LabelledArray(np.ndarray):
    """A numpy array that remembers which derivative and layout it holds: ``of``, ``wrt``,
    ``kind``, ``layout`` (every numpy operation works as on a plain array; results of
    arithmetic are plain arrays again)."""

    of: str = ""
    wrt: str = ""
    kind: str = ""
    layout: str = ""

    def __array_finalize__(self, obj) -> None:
        for name in ("of", "wrt", "kind", "layout"):
            setattr(self, name, getattr(obj, name, ""))

    def __array_wrap__(self, array, context=None, return_scalar=False):
        out = np.asarray(array)
        return out[()] if return_scalar else out

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self), separator=", ", prefix="    ")
        return (f"<{self.kind} d{self.of}/d{self.wrt}, {self.layout} layout, shape "
                f"{self.shape}>\n{body}")


def labelled(array: np.ndarray, d, layout: str) -> LabelledArray:
    out = np.asarray(array).view(LabelledArray)
    out.of, out.wrt, out.kind, out.layout = d.of, d.wrt, d.kind, layout
    return out


class Access:
    """Mixin of :class:`~tensorcalc.Derivative`: :meth:`to_layout` and indexing."""

    __slots__ = ()

    @classmethod
    def from_layout(cls, array: object, layout: str, out_shape, in_shape, *, of: str = "y",
                    wrt: str = "x"):
        """Inverse of :meth:`to_layout`: read an array given in ``layout``."""
        arr = as_float_array(array, "array")
        canonical = _layout.from_layout(arr, layout, tuple(out_shape), tuple(in_shape))
        return cls.from_array(canonical, out_shape, in_shape, of=of, wrt=wrt)

    def __array__(self, dtype=None, copy=None):
        arr = self.dense()
        return arr if dtype is None else arr.astype(dtype)

    def to_layout(self, layout: str) -> LabelledArray:
        """The dense tensor in ``'canonical'``, ``'numerator'`` or ``'denominator'`` layout,
        as an array that keeps ``of``, ``wrt``, ``kind`` and ``layout``.

        >>> import numpy as np, tensorcalc as tc
        >>> g = tc.Derivative.from_array(np.ones((2, 3)), (), (2, 3), of="C", wrt="W")
        >>> a = g.to_layout("numerator")
        >>> a.shape, a.kind, a.wrt
        ((3, 2), 'scalar-by-matrix', 'W')
        """
        _layout.check_layout(layout)
        return labelled(_layout.to_layout(self.dense(), layout, self.out_shape, self.in_shape),
                        self, layout)

    def __getitem__(self, index):
        """Index the canonical tensor (output axes, then input axes). Whole numbers on leading
        axes give a sub-derivative (``J[2]`` is the row ``dy_2/dx``, ``g["W1"][0]`` the
        gradient by the first row of W1); an index down to one entry gives that number; any
        other index (slices, arrays) gives the selected entries as an array.

        >>> import numpy as np, tensorcalc as tc
        >>> J = tc.Derivative.from_array(np.arange(6.0).reshape(2, 3), (2,), (3,), of="y",
        ...                              wrt="x")
        >>> J[1].kind, J[1].shape, J[1, 2]
        ('gradient', (3,), 5.0)
        """
        key = index if isinstance(index, tuple) else (index,)
        if len(key) > len(self.shape):
            raise ShapeMismatchError(f"too many indices: {self.name} has "
                                     f"{len(self.shape)} axes {self.shape}; got {index!r}.")
        value = self.dense()[index]
        if np.ndim(value) == 0:
            return float(value)
        if not all(isinstance(k, (int, np.integer)) for k in key):
            return np.asarray(value)
        n_out = len(self.out_shape)
        taken_out, taken_in = key[:n_out], key[n_out:]
        of = self.of + (f"[{', '.join(map(str, taken_out))}]" if taken_out else "")
        wrt = self.wrt + (f"[{', '.join(map(str, taken_in))}]" if taken_in else "")
        return type(self)._wrap(np.ascontiguousarray(value), self.out_shape[len(taken_out):],
                                self.in_shape[len(taken_in):], of, wrt)

    def diagonal(self) -> np.ndarray:
        """The diagonal of a square derivative (output shape equal to input shape, such as a
        Hessian block by one parameter): entry ``[i...] = d[i..., i...]``, contracted term by
        term with the input labels tied to the output ones, so the block is never built.

        >>> import numpy as np, tensorcalc as tc
        >>> J = tc.Derivative.from_array(np.arange(9.0).reshape(3, 3), (3,), (3,))
        >>> J.diagonal().tolist()
        [0.0, 4.0, 8.0]
        """
        if tuple(self.out_shape) != tuple(self.in_shape):
            raise ShapeMismatchError(f"diagonal() needs a square derivative (output shape = "
                                     f"input shape); {self.name} is "
                                     f"{self.out_shape} by {self.in_shape}.")
        n = len(self.out_shape)
        total = None
        for t in self.terms:
            value = contract_terms([_tied(t)], tuple(range(n)), self.sizes, self.dtype)
            total = value if total is None else total + value
        return np.asarray(total, dtype=self.dtype).reshape(self.out_shape)


def _tied(t):
    """Term ``t`` with each input axis's label identified with its output axis's label."""
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    for a, b in zip(t.out_labels, t.in_labels):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    labels = set(t.axis_labels) | t.factor_labels
    tied = t.relabel({c: find(c) for c in labels})
    return type(t)(tied.factors, tied.out_labels, tied.out_labels, tied.coef, tied.relations)
