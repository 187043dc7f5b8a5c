"""Window geometry shared by convolutions and pooling: options per spatial axis, output sizes,
the window relations ``[i = s*o + d*k - p]`` and every window as a strided view."""

from __future__ import annotations

import numpy as np

from ..core.term import Relation
from ..core.windows import window_view
from ..errors import TensorcalcError

OUT, TAP, INP = "op", "kl", "ij"  # labels of output positions, kernel taps, input positions


def per_axis(value, dims: int, name: str, low: int) -> tuple[int, ...]:
    """An int or a tuple of ``dims`` ints, each at least ``low``."""
    values = (value,) * dims if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != dims or not all(isinstance(v, (int, np.integer)) and v >= low
                                      for v in values):
        raise TensorcalcError(f"{name} must be an int >= {low} or {dims} of them; got {value!r}.")
    return tuple(int(v) for v in values)


def out_size(n: int, k: int, s: int, d: int, p: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


class Geometry:
    """Stride, padding and dilation per spatial axis, and the relations they make."""

    def __init__(self, dims: int, stride=1, padding=0, dilation=1) -> None:
        self.dims = dims
        self.stride = per_axis(stride, dims, "stride", 1)
        self.padding = per_axis(padding, dims, "padding", 0)
        self.dilation = per_axis(dilation, dims, "dilation", 1)

    def relations(self) -> tuple[Relation, ...]:
        return tuple(Relation.window(INP[a], OUT[a], TAP[a], self.stride[a], self.dilation[a],
                                     self.padding[a]) for a in range(self.dims))

    def out_shape(self, spatial, kernel) -> tuple[int, ...]:
        return tuple(out_size(n, k, s, d, p) for n, k, s, d, p in
                     zip(spatial, kernel, self.stride, self.dilation, self.padding))

    def sizes(self, spatial, kernel) -> dict[str, int]:
        sizes = dict(zip(INP, spatial)) | dict(zip(TAP, kernel))
        return sizes | dict(zip(OUT, self.out_shape(spatial, kernel)))

    def windows(self, x: np.ndarray, kernel) -> np.ndarray:
        """x (N, C, *S) as (N, C, o0, k0, o1, k1, ...): every window, as a strided view."""
        sizes = self.sizes(x.shape[2:], kernel)
        for a, r in reversed(list(enumerate(self.relations()))):
            x = window_view(x, 2 + a, r, sizes)
        return x


def axis_word(v) -> str:
    """An option as the one-line grammar writes it: ``3`` or ``3x2``."""
    return str(v) if isinstance(v, (int, np.integer)) else "x".join(map(str, v))


def axis_value(text: str):
    """``"3"`` -> 3, ``"3x2"`` -> (3, 2)."""
    parts = [int(t) for t in text.split("x")]
    return parts[0] if len(parts) == 1 else tuple(parts)
