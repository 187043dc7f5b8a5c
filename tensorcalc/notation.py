"""``explain``: one parameter's gradient as the chain of typed derivatives that builds it.

Each step lists the derivatives chained (kind, shape, symbols), the einsum spec contracted, the
entry formula in index notation, and the matrix-notation shortcut the step reduces to.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backprop import Step, backprop
from .core.html import html_escape
from .errors import UnknownNameError
from .network import Network
from .views import step_html, step_lines


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

    def latex(self) -> str:
        """The whole derivation as a LaTeX ``align`` block: each step's target and the entry
        formula of its result."""
        rows = [rf"&\text{{step {k}: }} {s.result.latex()}" for k, s in enumerate(self.steps, 1)]
        return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"

    def _repr_latex_(self) -> str:
        rows = [rf"&\text{{{k}: }} {s.result.latex()}" for k, s in enumerate(self.steps, 1)]
        return r"$$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"

    def _repr_html_(self) -> str:
        parts = [f"<div><b>{html_escape(f'dC/d{self.param}')}</b> for "
                 f"<code>{html_escape(self.network)}</code><ol>"]
        parts += [f"<li>{step_html(step)}</li>" for step in self.steps]
        return "".join(parts) + "</ol></div>"


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
        d2C/dW^2_ij dW^2_kl = 2 a^1_j sigma'(z^2)_i sigma'(z^2)_i a^1_l delta_ik
      curvature of layer 4 (1 term):
        d2C/dW^2_ij dW^2_kl = a^1_j [dC/da^2]_i sigma''(z^2)_i a^1_l delta_ik
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
