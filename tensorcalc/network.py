"""Fully connected networks: parameters by name, a forward pass that keeps z^l and a^l.

Layer l computes ``z^l = W^l a^{l-1} + b^l`` and ``a^l = f(z^l)`` with f the hidden activation
for l < L and the output activation for l = L; ``a^0 = x``. W^l has shape (n_l, n_{l-1}).
A batch is an (N, n_0) input, and its loss is the mean over samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._validate import as_float_array, trusted
from .errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from .losses import LOSSES
from .primitives import ACTIVATIONS, Primitive, get, linear, softmax

#: Names accepted for the output activation: every elementwise activation, plus softmax.
OUTPUTS: dict[str, Primitive] = {**ACTIVATIONS, "softmax": softmax}


@dataclass(frozen=True)
class Forward:
    """Values of a forward pass, 1-based like the parameters: ``z[l]``, ``a[l]`` (``a[0] = x``)."""

    z: list
    a: list

    @property
    def output(self) -> np.ndarray:
        return self.a[-1]


def _check_pairing(output: Primitive, loss: Primitive) -> None:
    if loss.name == "nll" and output.name != "identity":
        raise TensorcalcError(
            f"loss 'nll' takes logits, so the output activation must be 'identity' (a linear last "
            f"layer), not {output.name!r}. For probabilities use loss='cross_entropy'."
        )
    if loss.name == "cross_entropy" and output.name != "softmax":
        raise TensorcalcError(
            f"loss 'cross_entropy' (-sum y log p) takes a probability distribution over the "
            f"outputs, so the output activation must be 'softmax', not {output.name!r} (after a "
            f"sigmoid it would ignore every output but the target's). For logits use loss='nll'."
        )


class Network:
    """A fully connected network with named parameters ``W1, b1, ..., WL, bL``.

    >>> import tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="sigmoid", output="sigmoid",
    ...                         loss="squared_error", seed=0)
    >>> net.sizes, net.params["W1"].shape, net.depth
    ([3, 4, 2], (4, 3), 2)
    """

    def __init__(self, params: Mapping[str, object], hidden="sigmoid", output="sigmoid",
                 loss="squared_error"):
        self.hidden = get(hidden, ACTIVATIONS, "hidden activation")
        self.output = get("identity" if output in (None, "none") else output, OUTPUTS,
                          "output activation")
        self.loss_fn = get(loss, LOSSES, "loss")
        _check_pairing(self.output, self.loss_fn)
        #: Parameters by name, read-only (build a changed network with :meth:`with_param`).
        self.params = MappingProxyType(self._check_params(params))
        self.depth = sum(1 for k in self.params if k.startswith("W"))

    @staticmethod
    def _check_params(params: Mapping[str, object]) -> dict[str, np.ndarray]:
        names = set(params)
        depth = 0
        while f"W{depth + 1}" in names:
            depth += 1
        unknown = names - {f"W{l}" for l in range(1, depth + 1)} - {
            f"b{l}" for l in range(1, depth + 1)}
        if depth == 0 or unknown:
            raise TensorcalcError(
                f"parameters must be named W1, b1, ..., WL, bL (1-based, biases optional); got "
                f"{sorted(names)}" + (f", unexpected {sorted(unknown)}." if unknown else ".")
            )
        arrays = {k: as_float_array(v, k) for k, v in params.items()}
        dtype = np.result_type(*arrays.values())
        out: dict[str, np.ndarray] = {}
        for l in range(1, depth + 1):
            W = arrays[f"W{l}"]
            if W.ndim != 2 or 0 in W.shape:
                raise ShapeMismatchError(f"W{l} must be a non-empty matrix (n_{l}, n_{l - 1}); "
                                         f"got shape {W.shape}.")
            if l > 1 and W.shape[1] != out[f"W{l - 1}"].shape[0]:
                raise ShapeMismatchError(
                    f"W{l} has shape {W.shape}, so it takes {W.shape[1]} inputs, but W{l - 1} has "
                    f"shape {out[f'W{l - 1}'].shape} and gives {out[f'W{l - 1}'].shape[0]}; "
                    f"W{l} must have shape ({W.shape[0]}, {out[f'W{l - 1}'].shape[0]})."
                )
            out[f"W{l}"] = np.array(W, dtype=dtype)
            if f"b{l}" in arrays:
                b = arrays[f"b{l}"]
                if b.shape != (W.shape[0],):
                    raise ShapeMismatchError(f"b{l} must have shape ({W.shape[0]},) to match W{l} "
                                             f"of shape {W.shape}; got {b.shape}.")
                out[f"b{l}"] = np.array(b, dtype=dtype)
        for v in out.values():
            v.flags.writeable = False
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, object], *, hidden="sigmoid", output="sigmoid",
                    loss="squared_error") -> Network:
        """A network from explicit weights ``{"W1": ..., "b1": ..., ...}`` (no b's: no biases)."""
        return cls(params, hidden, output, loss)

    @classmethod
    def random(cls, sizes: Sequence[int], *, hidden="sigmoid", output="sigmoid",
               loss="squared_error", bias: bool = True, seed: int | None = 0,
               dtype=np.float64) -> Network:
        """Random weights ~ N(0, 1/n_{l-1}) and biases ~ N(0, 0.1^2) for layer widths ``sizes``
        (input width first); ``seed`` is a non-negative integer or None."""
        try:
            widths = list(sizes)
        except TypeError:
            widths = None
        if (widths is None or len(widths) < 2
                or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in widths)):
            raise ShapeMismatchError(f"sizes must list at least two whole-number widths, each "
                                     f">= 1 (input width first), e.g. [3, 4, 2]; got {sizes!r}.")
        sizes = [int(n) for n in widths]
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise InvalidInputError("dtype must be np.float32 or np.float64.")
        if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise InvalidInputError(f"seed must be a non-negative integer or None; got {seed!r}.")
        rng = np.random.default_rng(seed)
        params = {}
        for l in range(1, len(sizes)):
            params[f"W{l}"] = rng.normal(0, 1 / np.sqrt(sizes[l - 1]), (sizes[l], sizes[l - 1]))
            if bias:
                params[f"b{l}"] = rng.normal(0, 0.1, sizes[l])
        return cls({k: v.astype(dtype) for k, v in params.items()}, hidden, output, loss)

    # ------------------------------------------------------------------ structure
    @property
    def sizes(self) -> list[int]:
        return [self.params["W1"].shape[1]] + [self.params[f"W{l}"].shape[0]
                                               for l in range(1, self.depth + 1)]

    @property
    def bias(self) -> bool:
        """True when every layer has a bias (``from_params`` accepts biases on any subset)."""
        return all(f"b{l}" in self.params for l in range(1, self.depth + 1))

    @property
    def dtype(self) -> np.dtype:
        return self.params["W1"].dtype

    def activation(self, l: int) -> Primitive:
        """The activation of layer ``l`` (1-based): hidden below the top, output at the top."""
        return self.output if l == self.depth else self.hidden

    def with_param(self, name: str, value: np.ndarray) -> Network:
        """A copy with one parameter replaced (used by finite differences)."""
        params = dict(self.params)
        params[name] = value
        return Network(params, self.hidden, self.output, self.loss_fn)

    # ------------------------------------------------------------------ computation
    def check_input(self, x: object) -> np.ndarray:
        x = as_float_array(x, "x")
        n0 = self.sizes[0]
        if x.ndim not in (1, 2) or x.shape[-1] != n0:
            raise ShapeMismatchError(f"x must have shape ({n0},) for one sample or (N, {n0}) for a "
                                     f"batch; got {x.shape}.")
        if x.ndim == 2 and x.shape[0] == 0:
            raise InvalidInputError(f"x is an empty batch (shape {x.shape}); pass at least one "
                                    f"sample.")
        return x.astype(self.dtype, copy=False)

    def forward(self, x: object) -> Forward:
        """Run the network and keep every pre-activation z^l and activation a^l."""
        a = self.check_input(x)
        with trusted():  # x is checked above, the parameters at construction
            return self._run(self.params, a)

    def _run(self, params: Mapping[str, np.ndarray], a: np.ndarray) -> Forward:
        """The forward pass with the given (already checked) parameters."""
        zs, acts = [None], [a]
        for l in range(1, self.depth + 1):
            z = linear(params[f"W{l}"], a, params.get(f"b{l}"))
            a = self.activation(l)(z)
            zs.append(z)
            acts.append(a)
        return Forward(zs, acts)

    def __call__(self, x: object) -> np.ndarray:
        return self.forward(x).output

    def loss(self, x: object, y: object) -> float:
        """The loss C (the mean over samples for a batch)."""
        return float(self.loss_fn(self.forward(x).output, y))

    def __repr__(self) -> str:
        biased = [l for l in range(1, self.depth + 1) if f"b{l}" in self.params]
        bias = self.bias if self.bias or not biased else f"layers {biased}"
        return (f"Network(sizes={self.sizes}, hidden={self.hidden.name!r}, "
                f"output={self.output.name!r}, loss={self.loss_fn.name!r}, bias={bias}, "
                f"dtype={self.dtype})")
