"""A stack of layers placed in a network: shapes, parameter names and display symbols.

Layers with parameters are numbered 1, 2, ... in order of appearance (inside residual blocks
too; ``numbering="by_layer"``); a layer's parameters are its symbols with that number (``W1``,
``b1``, ``gamma2``), shown as ``W^1``. With ``numbering="by_dense"`` (the classic fully
connected assignment) only dense and conv layers count, a norm takes the number of the dense or
conv layer before it (``W1, b1, gamma1, beta1, W2, ...``) and embeddings count on their own
(``C1``). A layer's output is shown as its letter with the number of the last numbered layer at
or before it (``z^1``, ``a^1``, ``y^2``); the input is ``a^0``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..errors import TensorcalcError, UnknownNameError
from ..layers import Layer, as_layer

#: How parameters are numbered: every layer with parameters counts, or dense/conv layers only.
NUMBERINGS = ("by_layer", "by_dense")


@dataclass(frozen=True)
class Node:
    """One layer at its place: ``path`` (1-based, ``(3, 2)`` inside block 3), shapes of one
    sample, parameter names by symbol, display symbols, inner nodes of a block, and whether
    backprop needs the derivative by its input (something below it has parameters)."""

    layer: Layer
    path: tuple[int, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    names: dict
    sym: dict
    children: tuple[Node, ...] = ()
    need_input: bool = False

    @property
    def where(self) -> str:
        return f"layer {'.'.join(map(str, self.path))} ({self.layer.kind})"

    def walk(self) -> Iterator[Node]:
        """This node and every node inside it, in order."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def has_params(self) -> bool:
        return any(n.layer.params for n in self.walk())


def _unique(symbol: str, used: set[str]) -> str:
    while symbol in used:
        symbol += "'"
    used.add(symbol)
    return symbol


def _number(layer: Layer, state: dict) -> int:
    """The number of ``layer``'s parameters (and of the output symbols from it on)."""
    if state["numbering"] == "by_layer":
        state["count"] += 1
    elif "W" in layer.params or "K" in layer.params:
        state["count"] += 1
    elif tuple(layer.params) == ("C",):  # an embedding's table: C1, C2, ... of their own
        state["tables"] += 1
        return state["tables"]
    return state["count"]


def build(layers: Sequence[Layer | str], in_shape: tuple[int, ...], in_sym: str = "a^0",
          prefix: tuple[int, ...] = (), state: dict | None = None,
          numbering: str = "by_layer") -> list[Node]:
    """Place ``layers`` after an input of ``in_shape``; errors name the layer."""
    if numbering not in NUMBERINGS:
        raise UnknownNameError(f"unknown numbering={numbering!r}; valid values are "
                               f"{', '.join(map(repr, NUMBERINGS))}.")
    state = {"count": 0, "tables": 0, "used": {in_sym}, "names": {},
             "numbering": numbering} if state is None else state
    nodes = []
    for k, item in enumerate(layers, 1):
        path = prefix + (k,)
        try:
            layer = as_layer(item)
        except TensorcalcError as err:
            raise type(err)(f"layer {'.'.join(map(str, path))}: {err}") from None
        where = f"layer {'.'.join(map(str, path))} ({layer.kind})"
        children: tuple[Node, ...] = ()
        try:
            if layer.children():
                children = tuple(build(layer.children(), in_shape, in_sym, path, state))
                inner = children[-1].out_shape
                if inner != in_shape:
                    raise TensorcalcError(
                        f"a residual block must keep its input's shape {in_shape}, but its "
                        f"layers give {inner}; make the last inner layer output {in_shape}.")
            out_shape = tuple(layer.output_shape(tuple(in_shape)))
        except TensorcalcError as err:
            if str(err).startswith("layer "):
                raise
            raise type(err)(f"{where}: {err}") from None
        names, sym = {}, {"in": in_sym}
        if layer.params:
            number = _number(layer, state)
            for s in layer.params:
                names[s], sym[s] = f"{s}{number}", f"{s}^{number}"
                if names[s] in state["names"]:
                    raise TensorcalcError(
                        f"{where}: numbering={state['numbering']!r} names a parameter "
                        f"{names[s]} like {state['names'][names[s]]}; use "
                        f"numbering='by_layer'.")
                state["names"][names[s]] = where
        sym["out"] = _unique(f"{layer.symbol}^{state['count']}", state["used"])
        nodes.append(Node(layer, path, tuple(in_shape), out_shape, names, sym, children))
        in_shape, in_sym = out_shape, sym["out"]
    return nodes


def mark_inputs(nodes: Sequence[Node], below: bool = False) -> list[Node]:
    """Set ``need_input`` on every node: true where some layer below it has parameters."""
    marked = []
    for node in nodes:
        children = tuple(mark_inputs(node.children, below)) if node.children else ()
        marked.append(replace(node, children=children, need_input=below))
        below = below or node.has_params
    return marked


def local_keys(nodes: Sequence[Node]) -> list[tuple]:
    """The local derivatives backprop uses, as ``(path, wrt)``: every parameter, and the input
    of every layer (not a block: its sum rule is built from its inner layers) that needs it."""
    keys = []
    for top in nodes:
        for node in top.walk():
            keys += [(node.path, s) for s in node.layer.params]
            if node.need_input and not node.children:
                keys.append((node.path, "x"))
    return keys
