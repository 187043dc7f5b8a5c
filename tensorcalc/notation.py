"""``explain``: one parameter's gradient as the chain of typed derivatives that builds it.

Each step lists the derivatives chained (kind, shape, symbols), the einsum spec contracted, the
entry formula in index notation, and the matrix-notation shortcut the step reduces to.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backprop import Step, backprop
from .core.derivative import Derivative
from .core.html import html_array, html_escape
from .errors import UnknownNameError
from .network import Network


def describe(d: Derivative) -> str:
    """One line: symbol, kind, shapes, structure and factors of a derivative (for a sum, the
    factors of each term, signed)."""
    def listed(factors) -> str:
        return " ".join(f"{f.symbol}[{f.labels}]" for f in factors) or "(no factor)"

    if len(d.terms) == 1:
        factors = listed(d.factors)
    else:
        factors = " ".join(f"{'-' if t.coef < 0 else '+'}({listed(t.factors)})" for t in d.terms)
    return (f"d{d.of}/d{d.wrt}: {d.kind} {d.out_shape} by {d.in_shape}, {d.structure}; "
            f"{factors}")


def step_lines(k: int, step: Step) -> list[str]:
    """The printed form of one chain-rule step."""
    r = step.result
    names = ", ".join(sym for sym, _, _ in r.operands)
    joiner = " + " if step.rule == "sum" else " . "
    lines = [f"step {k}: {step.target} = " + joiner.join(f"d{p.of}/d{p.wrt}" for p in step.parts)]
    lines += [f"    {describe(p)}" for p in step.parts]
    lines += [
        f"  einsum:   {r.spec}   ({names})",
        f"  index:    {r.index_notation()}",
        f"  matrix:   {r.matrix_notation() or '(not a matrix product)'}",
        f"  shortcut: {step.shortcut}",
        f"  result:   {r.kind} of shape {r.shape}",
    ]
    return lines


@dataclass(frozen=True)
class Explanation:
    """The steps that build one parameter's gradient; ``print()`` it."""

    param: str
    network: str
    steps: list[Step]

    def __str__(self) -> str:
        lines = [f"{self.steps[-1].target} for {self.network}", ""]
        for k, step in enumerate(self.steps, 1):
            lines += step_lines(k, step) + [""]
        return "\n".join(lines).rstrip()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_latex_(self) -> str:
        rows = [rf"&\text{{{k}: }} {s.result.latex()}" for k, s in enumerate(self.steps, 1)]
        return r"$$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"

    def _repr_html_(self) -> str:
        parts = [f"<b>{html_escape(f'dC/d{self.param}')}</b> for "
                 f"<code>{html_escape(self.network)}</code><ol>"]
        for step in self.steps:
            r = step.result
            parts.append(
                f"<li><b>{html_escape(step.target)}</b> = "
                + " &middot; ".join(html_escape(f"d{p.of}/d{p.wrt}") + f" <i>({p.kind})</i>"
                                    for p in step.parts)
                + f"<br>einsum <code>{html_escape(r.spec)}</code>; "
                f"index <code>{html_escape(r.index_notation())}</code>; "
                f"matrix <code>{html_escape(r.matrix_notation() or '-')}</code><br>"
                f"result: {html_escape(r.kind)} {r.shape}: {html_array(r.contracted().dense())}"
                "</li>")
        return "".join(parts) + "</ol>"


def explain(net: Network, x, y, param):
    """The chain rule for one parameter, step by step; for a pair of parameters
    (``("W1", "W1")``), the parts of that Hessian block, each in index notation (see
    :func:`tensorcalc.hessian_parts`).

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> text = str(tc.explain(net, np.ones(3), np.zeros(2), "W1"))
    >>> "delta^1 = (W^2T delta^2) (.) sigma'(z^1)" in text
    True
    >>> print(tc.explain(net, np.ones(3), np.zeros(2), ("W2", "W2")))
    d2C/dW^2 dW^2 as 2 parts:
      Gauss-Newton (1 term):
        ddC/dW^2_ij/dW^2_kl = 2 a^1_j sigma'(z^2)_i sigma'(z^2)_i a^1_l delta_ik
      curvature of layer 4 (1 term):
        ddC/dW^2_ij/dW^2_kl = a^1_j [dC/da^2]_i sigma''(z^2)_i a^1_l delta_ik
    """
    if isinstance(param, tuple):
        from .second import hessian_parts

        return hessian_parts(net, x, y, param)
    if param not in net.params:
        raise UnknownNameError(f"unknown parameter {param!r}; this network has "
                               f"{', '.join(net.params)}.")
    return Explanation(param, repr(net), steps_for(backprop(net, x, y, "full").trace,
                                                   f"dC/d{net.symbol(param)}"))


def steps_for(trace: list[Step], target: str) -> list[Step]:
    """The steps of ``trace`` that the step named ``target`` is built from, in order: the
    step itself and, recursively, every step whose result it chains or adds."""
    made = {id(s.result.compact): k for k, s in enumerate(trace)}
    (final,) = [k for k, s in enumerate(trace) if s.target == target]
    needed, todo = set(), [final]
    while todo:
        k = todo.pop()
        needed.add(k)
        for part in trace[k].parts:
            todo += [made[id(f.array)] for f in part.factors
                     if id(f.array) in made and made[id(f.array)] not in needed]
    return [trace[k] for k in sorted(needed)]
