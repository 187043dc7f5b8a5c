"""Generic reverse accumulation over typed local derivatives: one walk for every stack.

Walking the layers from the loss down, the chain of local derivatives since the last contraction
is kept pending (``dC/da^L``, then ``da^L/dz^L``, ...) and contracted into one gradient where a
layer has parameters (``delta^l = dC/dz^l``, what the shortcut holds too). Each parameter's
gradient is one more chain step from there. A residual block contracts at its output, walks its
inner stack, and adds the two paths (the sum rule). Every step is recorded with the shortcut
formula it reduces to, so ``explain`` can print the chain that built any gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .core.chain import chain
from .core.contract import ascii_spec, path_info
from .core.derivative import Derivative
from .core.term import Factor
from .views import step_html, step_lines


@dataclass(frozen=True)
class Step:
    """One step: ``result = chain(*parts)`` (or their sum, ``rule="sum"``), not yet contracted,
    so its spec and index notation show the whole step, and the shortcut it reduces to."""

    target: str
    parts: tuple[Derivative, ...]
    result: Derivative
    shortcut: str
    rule: str = "chain"

    def __str__(self) -> str:
        return "\n".join(step_lines(1, self))[len("step 1: "):]

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        return step_html(self)


def _relational(d: Derivative) -> bool:
    return any(t.relations for t in d.terms)


def gradient_name(symbol: str) -> str:
    """``delta^2`` for a dense layer's output ``z^2``, ``dC/d<symbol>`` otherwise."""
    return "delta^" + symbol[2:] if symbol.startswith("z^") else f"dC/d{symbol}"


def largest_bytes(d: Derivative) -> int:
    """Bytes of the largest tensor a contraction of ``d`` builds (operands, intermediates)."""
    biggest = 0
    for t, spec in zip(d.terms, d.specs):
        shapes = tuple(f.array.shape for f in t.factors)
        if not shapes:
            continue
        biggest = max(biggest, max(math.prod(s) for s in shapes))
        if len(shapes) > 2 and not t.relations:
            spec = ascii_spec(*[part.split(",") if k == 0 else part
                                for k, part in enumerate(spec.split("->"))])
            biggest = max(biggest, int(path_info(spec, shapes).largest_intermediate))
    result = math.prod(d.sizes[c] for c in d.result_labels)
    return max(biggest, result) * d.dtype.itemsize


def decay_factor(weight, c: float):
    """The gradient of ``c ||W||^2``: ``2 c W``."""
    return 2.0 * c * weight


def decay_derivative(weight, c: float, symbol: str) -> Derivative:
    """d(c ||W||^2)/dW = 2 c W as a gradient by W."""
    labels = "ijklmn"[: weight.ndim]
    factor = Factor(decay_factor(weight, c), labels, f"{2 * c:g} {symbol}")
    return Derivative((factor,), "", labels, dict(zip(labels, weight.shape)), "C", symbol,
                      _checked=True)


class Accumulation:
    """One reverse accumulation: ``run()`` fills ``trace``, ``grads`` and ``largest``."""

    def __init__(self, net, fw, local: dict) -> None:
        self.net, self.fw, self.local = net, fw, local
        self.trace: list[Step] = []
        self.grads: dict[str, Derivative] = {}
        self.largest = 0
        self._made: set[int] = set()

    def step(self, target: str, parts, shortcut: str, rule: str = "chain") -> Derivative:
        """Chain (or add) ``parts``, record the step, return its contracted result. A lone
        part that an earlier step made is that gradient already: no step is added."""
        if rule == "chain" and len(parts) == 1 and id(parts[0]) in self._made:
            return parts[0]
        if rule == "chain":
            joined = chain(*parts)
        else:  # the sum rule: a gradient by the same variable as the last part
            total = parts[0] + parts[1]
            joined = Derivative._make(total.terms, total.sizes, parts[1].of, parts[1].wrt,
                                      total._dtype)
        self.largest = max(self.largest, largest_bytes(joined))
        self.trace.append(Step(target, tuple(parts), joined, f"{target} = {shortcut}", rule))
        result = joined.contracted(target)
        self._made.add(id(result))
        return result

    def run(self) -> Accumulation:
        records = self.fw.records
        parts, text = [self.local["loss",]], self.local["loss",].factors[0].symbol
        last = records[-1]
        loss = self.net.loss_fn
        if loss.fuses(last.node.layer) and last.node.need_input:
            parts.append(self.local[last.node.path, "x"])
            text = loss.fused_text(last.ctx.sym["out"], last.ctx.batched)
            records = records[:-1]
        parts, text = self.walk(records, parts, text)
        if parts is not None and records and records[0].node.need_input:
            symbol = self.fw.records[0].ctx.sym["in"]
            g = self.step(gradient_name(symbol), parts, text)
            self.grads["x"] = Derivative._make(g.terms, g.sizes, "C", "x", g._dtype)
        return self

    def walk(self, records, parts, text):
        """Accumulate through ``records`` from the top; return the pending parts and text at
        their input (None when nothing below needs a gradient)."""
        for rec in reversed(records):
            node, layer, ctx = rec.node, rec.node.layer, rec.ctx
            if parts is None:
                break
            if node.children:
                g = self.step(gradient_name(node.sym["out"]), parts, text)
                inner, inner_text = self.walk(rec.inner, [g], g.factors[0].symbol)
                if inner is None:
                    return None, ""
                target = gradient_name(node.sym["in"])
                g_f = self.step(f"{target} through f", inner, inner_text)
                total = self.step(target, (g, g_f), layer.input_text(g.factors[0].symbol,
                                                                     g_f.factors[0].symbol),
                                  rule="sum")
                parts, text = [total], target
            elif layer.params:
                g = self.step(gradient_name(node.sym["out"]), parts, text)
                delta = g.factors[0].symbol
                for s in layer.params:
                    self.parameter(node, ctx, s, g)
                if not node.need_input:
                    return None, ""
                parts, text = [g, self.local[node.path, "x"]], layer.input_text(delta, ctx)
            elif node.need_input:
                local = self.local[node.path, "x"]
                if _relational(local) and any(_relational(p) for p in parts[1:]):
                    # two index relations in one step would compose; contract the first here
                    g = self.step(gradient_name(node.sym["out"]), parts, text)
                    parts, text = [g], g.factors[0].symbol
                parts = parts + [local]
                text = layer.input_text(text, ctx)
            else:
                return None, ""
        return parts, text

    def parameter(self, node, ctx, s: str, g: Derivative) -> None:
        name, symbol = node.names[s], node.sym[s]
        target = f"dC/d{symbol}"
        text = node.layer.param_text(s, g.factors[0].symbol, ctx)
        decay = ("decay", name) in self.local
        data = self.step(target + (" (loss)" if decay else ""), [g, self.local[node.path, s]],
                         text)
        if decay:
            c = self.net.weight_decay
            data = self.step(target, (data, self.local["decay", name]),
                             f"{text} + {2 * c:g} {symbol}", rule="sum")
        self.grads[name] = data
