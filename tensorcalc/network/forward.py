"""The forward pass over placed layers, keeping what every layer's rules need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..errors import TensorcalcError
from ..layers import Activation, Ctx, Softmax
from .nodes import Node


class Record(NamedTuple):
    """One layer at one call: its node, its context (input, output, cache, parameters,
    symbols) and, for a block, the records of its inner layers."""

    node: Node
    ctx: Ctx
    inner: tuple = ()


def run(nodes: Sequence[Node], params: Mapping[str, np.ndarray], x: np.ndarray,
        batched: bool) -> list[Record]:
    """Run ``nodes`` on ``x`` (already checked) with ``params`` by name."""
    records = []
    for node in nodes:
        p = {s: params[name] for s, name in node.names.items()}
        inner = ()
        try:
            node.layer.check_call(x, batched)
            if node.children:
                inner = tuple(run(node.children, params, x, batched))
                y, cache = x + inner[-1].ctx.y, None
            else:
                y, cache = node.layer.forward_in(x, p, node.in_shape)
        except TensorcalcError as err:
            if str(err).startswith("layer "):
                raise
            raise type(err)(f"{node.where}: {err}") from None
        records.append(Record(node, Ctx(x, y, cache, p, node.sym, batched), inner))
        x = y
    return records


@dataclass(frozen=True)
class Forward:
    """Values of a forward pass. ``records`` hold every layer's input and output; ``z[l]`` is
    the output of the l-th layer with parameters and ``a[l]`` the value that leaves its group
    (the input of the next layer with parameters, or the output), 1-based with ``a[0] = x``
    (for a dense network: the pre-activations and activations of the references)."""

    x: np.ndarray
    records: list[Record] = field(repr=False)

    @property
    def output(self) -> np.ndarray:
        return self.records[-1].ctx.y if self.records else self.x

    @property
    def logits(self) -> np.ndarray:
        """The input of a final activation or softmax (the output when there is none)."""
        last = self.records[-1] if self.records else None
        if last is not None and isinstance(last.node.layer, (Activation, Softmax)):
            return last.ctx.x
        return self.output

    @property
    def z(self) -> list:
        return [None] + [r.ctx.y for r in self.records if r.node.has_params]

    @property
    def a(self) -> list:
        values = [self.x]
        for r in self.records:
            if r.node.has_params:
                values.append(r.ctx.y)
            elif len(values) > 1:  # a layer without parameters extends the current group
                values[-1] = r.ctx.y
        return values
