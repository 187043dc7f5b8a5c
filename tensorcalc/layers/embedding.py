"""Embedding lookups: ``Y[t, d] = C[X[t], d]`` for integer token ids ``X``.

The ids are data, not variables: there is no derivative by them. The derivative by the table
is a selection, ``dY_td/dC_ve = delta_de [v = X_t]``, kept as the ids themselves (never a one-hot
array of size T x vocabulary); a chain gathers rows or scatter-adds into them (``np.add.at``),
as the shortcut does.
"""

from __future__ import annotations

import numpy as np

from ..core.derivative import Derivative
from ..core.term import Lookup, Term
from ..errors import InvalidInputError, TensorcalcError
from .base import Ctx, Layer, register_kind
from .words import Words


def token_ids(x: np.ndarray, num: int) -> np.ndarray:
    """``x`` as integer ids in ``[0, num)``, or a clear error."""
    ids = np.asarray(x)
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
            raise InvalidInputError("an embedding takes integer token ids; got values that "
                                    "are not whole numbers.")
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise InvalidInputError(f"an embedding takes integer token ids; got dtype {ids.dtype}.")
    if ids.size and (ids.min() < 0 or ids.max() >= num):
        raise InvalidInputError(f"token ids must lie in [0, {num}); got values from "
                                f"{ids.min()} to {ids.max()}.")
    return ids


@register_kind
class Embedding(Layer):
    """A table ``C`` of ``num`` rows of size ``dim``: integer input ``(T,)`` (or a batch
    ``(N, T)``) gives ``(T, dim)`` (or ``(N, T, dim)``); ``tc.Flatten()`` after it gives
    ``T * dim`` features per sample. Parameter ``C<l>`` of shape (num, dim).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Embedding(27, 10), tc.Flatten(), tc.Dense(27), "softmax"],
    ...                        loss="cross_entropy", input_shape=(3,), seed=0)
    >>> X, Y = np.array([[0, 5, 13], [5, 13, 13]]), np.array([13, 1])
    >>> list(net.params), tc.compare(net, X, Y).ok
    (['C1', 'W2', 'b2'], True)
    """

    kind = "embedding"
    grammar = "embedding NUM DIM"
    symbol = "e"
    params = ("C",)
    formulas = {"x": "de/dX: no derivative by integer token ids (they are data)",
                "C": "de_td/dC_ve = delta_de [v = X_t]"}
    example_input = (3,)

    def __init__(self, num: int, dim: int) -> None:
        for value, name in ((num, "num"), (dim, "dim")):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise TensorcalcError(f"Embedding({name}) needs a whole number >= 1; got "
                                      f"{value!r}.")
        self.num, self.dim = int(num), int(dim)
        self.formulas = dict(type(self).formulas)

    def output_shape(self, in_shape):
        return tuple(in_shape) + (self.dim,)

    def param_shapes(self, in_shape):
        return {"C": (self.num, self.dim)}

    def init(self, rng, in_shape, dtype):
        return {"C": rng.normal(0, 1, (self.num, self.dim)).astype(dtype)}

    def forward(self, x, p):
        ids = token_ids(x, self.num)
        return p["C"][ids], ids

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        if wrt == "x":
            raise TensorcalcError("an embedding has no derivative by its integer input; put it "
                                  "first in the stack.")
        ids = ctx.cache
        lead = "nt"[2 - ids.ndim:]
        sizes = dict(zip(lead, ids.shape)) | {"d": self.dim, "v": self.num}
        term = Term((), lead + "d", "vd", 1.0,
                    (Lookup("v", tuple((c, 1) for c in lead), ids, f"X({ctx.sym['in']})"),))
        return Derivative._make((term,), sizes, ctx.sym["out"], ctx.sym["C"], ctx.p["C"].dtype)

    def local_arrays(self, ctx: Ctx, wrt: str):
        return (ctx.cache,)  # the ids: the lookup's index data

    def backward(self, g, ctx: Ctx, want_input: bool = True):
        grad = np.zeros((self.num, self.dim), dtype=g.dtype)
        np.add.at(grad, ctx.cache, g)
        return None, {"C": grad}

    def input_text(self, expr: str, ctx: Ctx) -> str:
        return "(no gradient by token ids)"

    def param_text(self, name: str, delta: str, ctx: Ctx) -> str:
        return f"scatter-add of {delta} into the rows X({ctx.sym['in']})"

    @classmethod
    def example(cls):
        return cls(6, 2)

    @classmethod
    def example_data(cls, rng, shape):
        return rng.integers(0, 6, size=shape)

    @classmethod
    def from_words(cls, words):
        w = Words(cls, words)
        num, dim = w.value("the table size NUM"), w.value("the dimension DIM")
        w.done()
        return cls(num, dim)

    def spec(self) -> str:
        return f"embedding {self.num} {self.dim}"

    def __repr__(self) -> str:
        return f"Embedding({self.num}, {self.dim})"
