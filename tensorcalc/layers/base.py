"""What every layer kind states once, and the call context its rules read.

A layer kind is one class: its forward value, its local derivatives (with respect to its input
``"x"`` and to each parameter) as structured :class:`~tensorcalc.Derivative` objects, one line
of mathematics per derivative (``formulas``), its classic shortcut backward in plain numpy, and
the matrix-notation text of that shortcut. Every backprop method, ``compare``, ``explain``,
``jacobian``, the plots and the tests are derived from these entries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, NamedTuple

import numpy as np

from ..core.derivative import Derivative
from ..errors import UnknownNameError
from .words import Words


class Ctx(NamedTuple):
    """One layer at one call: input ``x``, output ``y``, what the forward pass kept
    (``cache``), the parameters by symbol (``p["W"]``), the display symbols (``sym["in"]``,
    ``sym["out"]``, ``sym["W"]`` = ``"W^2"``), and whether arrays carry a batch axis."""

    x: np.ndarray
    y: np.ndarray
    cache: object
    p: Mapping[str, np.ndarray]
    sym: Mapping[str, str]
    batched: bool


def wrap(expr: str) -> str:
    """Parenthesise a compound expression: ``delta^2`` stays, ``W^2T delta^2`` gets (...)."""
    return expr if " " not in expr else f"({expr})"


class Layer:
    """Base class of the layer kinds; see the module docstring for what a kind states."""

    kind: ClassVar[str] = ""
    #: Letter of the layer's output in formulas (``z`` for dense, ``a`` for activations).
    symbol: ClassVar[str] = "a"
    #: Parameter symbols, in the order the parameters are named (``("W", "b")``).
    params: tuple[str, ...] = ()
    #: Parameters that weight decay applies to.
    decay: tuple[str, ...] = ()
    #: True for blocks that wrap a stack (``residual(...)`` in the one-line grammar).
    takes_stack: ClassVar[bool] = False
    #: The input shape of one sample that the registry's tests place :meth:`example` after.
    example_input: ClassVar[tuple[int, ...]] = (4,)
    #: True for kinds that normalise over the batch, so they take batches only.
    needs_batch: ClassVar[bool] = False
    #: How the one-line grammar writes the kind with its options (``"dense N [nobias]
    #: [in_out]"``, ``{kind}`` standing for the kind); empty for a kind without options.
    grammar: ClassVar[str] = ""
    #: One line of mathematics per derivative: ``"x"`` and each parameter symbol.
    formulas: ClassVar[Mapping[str, str]] = {}

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output shape of one sample, raising a plain message when ``in_shape`` does not
        fit (the network adds which layer it is)."""
        return in_shape

    def param_shapes(self, in_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {}

    def init(self, rng: np.random.Generator, in_shape: tuple[int, ...], dtype) -> dict:
        """Initial parameters by symbol, drawn from ``rng``."""
        return {}

    def check_call(self, x: np.ndarray, batched: bool) -> None:
        """Checks that only a call can make (a batch norm needs N >= 2)."""

    def forward(self, x: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, object]:
        raise NotImplementedError

    def forward_in(self, x: np.ndarray, p: Mapping[str, np.ndarray], in_shape: tuple[int, ...]):
        """:meth:`forward` for a kind that needs the shape of one sample (pooling, flatten)."""
        return self.forward(x, p)

    def local(self, ctx: Ctx, wrt: str) -> Derivative:
        """d(output)/d(``wrt``) at this call, structured."""
        raise NotImplementedError

    def local_arrays(self, ctx: Ctx, wrt: str) -> tuple[np.ndarray, ...]:
        """The factor arrays of :meth:`local` (and its lookups' index data), term by term, in
        order: what a compiled chain replays without building the derivative (a kind may
        compute them directly)."""
        return tuple(a for t in self.local(ctx, wrt).terms for a in t.operand_arrays())

    def backward(self, g: np.ndarray, ctx: Ctx, want_input: bool = True
                 ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The shortcut: the upstream gradient ``g`` (shaped like the output) to the input
        gradient (None may be returned when not ``want_input``) and each parameter's
        gradient, in plain numpy."""
        raise NotImplementedError

    def input_text(self, expr: str, ctx: Ctx) -> str:
        """The shortcut for the input gradient, given the output gradient ``expr``."""
        raise NotImplementedError

    def param_text(self, name: str, delta: str, ctx: Ctx) -> str:
        """The shortcut for one parameter's gradient, given the output gradient ``delta``."""
        raise NotImplementedError

    def children(self) -> tuple[Layer, ...]:
        return ()

    @classmethod
    def example(cls) -> Layer:
        """An instance for the registry's tests (placed after an input of shape (4,))."""
        return cls()

    @classmethod
    def example_data(cls, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Input for the registry's tests (an embedding's are integer ids)."""
        return rng.normal(size=shape) * 1.5 + 0.3

    @classmethod
    def from_words(cls, words: list[str]) -> Layer:
        """The layer that ``kind word word ...`` in the one-line grammar describes; a word it
        does not read is an error naming the word and :attr:`grammar`."""
        Words(cls, words).done()
        return cls()

    def spec(self) -> str:
        """This layer in the one-line grammar of ``tensorcalc check --layers``."""
        return self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: Layer kinds by the name the one-line grammar uses (``"dense"``, ``"batchnorm"``, ...).
KINDS: dict[str, type[Layer]] = {}
#: Bare names accepted in a stack (``"relu"``, ``"softmax"``), each making its layer.
NAMED: dict[str, Callable[[], Layer]] = {}


def register_kind(cls: type[Layer]) -> type[Layer]:
    """Register a layer class under its ``kind`` (a class decorator)."""
    KINDS[cls.kind] = cls
    return cls


def as_layer(item: Layer | str) -> Layer:
    """A layer from a layer object or a bare name such as ``"relu"`` or ``"softmax"``."""
    if isinstance(item, Layer):
        return item
    if isinstance(item, str) and item in NAMED:
        return NAMED[item]()
    raise UnknownNameError(
        f"unknown layer {item!r}; a stack takes layer objects (tc.Dense(16), tc.BatchNorm(), "
        f"...) or the names {', '.join(map(repr, NAMED))}.")
