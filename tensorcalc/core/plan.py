"""Compiled chains: the label algebra of a reverse accumulation, done once and replayed.

Which labels a chain identifies, and so which einsum each step contracts, depends only on the
labels and shapes of the local derivatives, never on their numbers. :func:`compile_plan` records,
for an accumulation traced once with :func:`tensorcalc.chain` and sums, each step's einsum specs
(one per term) and where each operand comes from (a factor of a local derivative, an earlier
step's result, or a constant such as an identity matrix). :func:`run_plan` replays it on the
local derivatives of a new call with the same structure, so a step costs what its contractions
cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contract import contract_spec, einsum_spec, full_operands
from .derivative import Derivative
from .term import Factor
from .validate import readonly


@dataclass(frozen=True)
class PlanStep:
    terms: tuple  # (coef, spec, sources) per term; a source is one of
    #               ("local", key, term, factor) | ("step", k) | ("const", array)


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlanStep, ...]
    outputs: dict  # parameter name -> (step index, template Derivative)
    largest_bytes: int


def structure_key(local: dict) -> tuple:
    """What a plan depends on: every local derivative's terms, labels, coefficients, factor
    labels, shapes and dtypes."""
    return tuple(
        (key, tuple((t.coef, t.out_labels, t.in_labels,
                     tuple((f.labels, f.array.shape, f.array.dtype.char) for f in t.factors))
                    for t in d.terms))
        for key, d in local.items()
    )


def compile_plan(local: dict, results: list[Derivative], grads: dict,
                 largest_bytes: int) -> Plan:
    """A replayable program from one traced accumulation: ``results`` are the uncontracted
    result of each step in order, ``grads`` the contracted gradients among them."""
    where: dict[int, tuple] = {}
    for key, d in local.items():
        for t_index, t in enumerate(d.terms):
            for f_index, f in enumerate(t.factors):
                where.setdefault(id(f.array), ("local", key, t_index, f_index))
    steps = []
    for k, joined in enumerate(results):
        terms = []
        for t in joined.terms:
            target = "".join(t.axis_labels[a] for a in joined._axes)
            operands, out = full_operands([(f.array, f.labels) for f in t.factors], target,
                                          joined.sizes, joined.dtype)
            sources = tuple(where.get(id(arr), ("const", arr)) for arr, _ in operands)
            terms.append((t.coef, einsum_spec([lab for _, lab in operands], out), sources))
        steps.append(PlanStep(tuple(terms)))
        where[id(joined.compact)] = ("step", k)
    outputs = {}
    for name, g in grads.items():
        (k,) = [k for k, r in enumerate(results) if r.compact is g.factors[0].array]
        outputs[name] = (k, g)
    return Plan(tuple(steps), outputs, largest_bytes)


def _array(src: tuple, local: dict, values: list) -> np.ndarray:
    if src[0] == "local":
        return local[src[1]].terms[src[2]].factors[src[3]].array
    if src[0] == "step":
        return values[src[1]]
    return src[1]


def run_plan(plan: Plan, local: dict) -> dict[str, Derivative]:
    """Replay ``plan`` on new local derivatives of the same structure."""
    values: list[np.ndarray] = []
    for step in plan.steps:
        total = None
        for coef, spec, sources in step.terms:
            value = contract_spec(spec, [_array(s, local, values) for s in sources])
            if coef != 1.0:
                value = value * np.asarray(coef, dtype=value.dtype)
            total = value if total is None else total + value
        values.append(total)
    grads = {}
    for name, (k, t) in plan.outputs.items():
        f = t.factors[0]
        value = readonly(values[k].astype(t.dtype, copy=False))
        grads[name] = Derivative((Factor(value, f.labels, f.symbol),), t.out_labels,
                                 t.in_labels, t.sizes, t.of, t.wrt, _checked=True)
    return grads
