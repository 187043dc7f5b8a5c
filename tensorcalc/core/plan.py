"""Compiled chains: the label algebra of a reverse accumulation, done once and replayed.

Which labels a chain identifies, and so which einsum each step contracts, depends only on the
labels and shapes of the local derivatives, never on their numbers. :func:`compile_plan` records,
for an accumulation traced once with :func:`tensorcalc.chain` and sums, each step's einsum specs
(one per term) and where each operand comes from (a factor of a local derivative, an earlier
step's result, or a constant such as an identity matrix). :func:`run_plan` replays it on the
factor arrays of a new call with the same structure, without building any derivative object, so
a step costs what its contractions cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contract import ascii_spec, compiled, full_operands
from .derivative import Derivative
from .term import Factor
from .validate import readonly
from .windows import program


@dataclass(frozen=True)
class PlanStep:
    terms: tuple  # (coef, contraction, sources) per term; a source is one of
    #               ("local", key, index) | ("step", k) | ("const", array)


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlanStep, ...]
    outputs: dict  # parameter name -> (step index, template Derivative, dtype)
    largest_bytes: int


def compile_plan(local: dict, results: list[Derivative], grads: dict,
                 largest_bytes: int) -> Plan:
    """A replayable program from one traced accumulation: ``results`` are the uncontracted
    result of each step in order, ``grads`` the contracted gradients among them."""
    where: dict[int, tuple] = {}
    for key, d in local.items():
        for index, array in enumerate(a for t in d.terms for a in t.operand_arrays()):
            where.setdefault(id(array), ("local", key, index))
    steps = []
    for k, joined in enumerate(results):
        terms = []
        for t in joined.terms:
            target = "".join(t.axis_labels[a] for a in joined._axes)
            if t.relations:
                sources = tuple(where.get(id(a), ("const", a)) for a in t.operand_arrays())
                terms.append((t.coef, program(t, target, joined.sizes, joined.dtype), sources))
                continue
            operands, out = full_operands([(f.array, f.labels) for f in t.factors], target,
                                          joined.sizes, joined.dtype)
            sources = tuple(where.get(id(arr), ("const", arr)) for arr, _ in operands)
            spec = ascii_spec([lab for _, lab in operands], out)
            terms.append((t.coef, compiled(spec, tuple(arr.shape for arr, _ in operands)),
                          sources))
        steps.append(PlanStep(tuple(terms)))
        where[id(joined.compact)] = ("step", k)
    outputs = {}
    for name, g in grads.items():
        (k,) = [k for k, r in enumerate(results) if r.compact is g.factors[0].array]
        outputs[name] = (k, g, g.dtype)
    return Plan(tuple(steps), outputs, largest_bytes)


def run_plan(plan: Plan, arrays: dict) -> dict[str, Derivative]:
    """Replay ``plan`` on the factor arrays of new local derivatives of the same structure
    (``arrays[key]`` lists a local derivative's factor arrays, term by term)."""
    values: list[np.ndarray] = []
    for step in plan.steps:
        total = None
        for coef, contraction, sources in step.terms:
            value = np.asarray(contraction(*[arrays[s[1]][s[2]] if s[0] == "local" else
                                             values[s[1]] if s[0] == "step" else s[1]
                                             for s in sources]))
            if coef != 1.0:
                value = value * np.asarray(coef, dtype=value.dtype)
            total = value if total is None else total + value
        values.append(total)
    grads = {}
    for name, (k, t, dtype) in plan.outputs.items():
        f = t.factors[0]
        value = readonly(values[k].astype(dtype, copy=False))
        grads[name] = Derivative((Factor(value, f.labels, f.symbol),), t.out_labels,
                                 t.in_labels, t.sizes, t.of, t.wrt, _checked=True)
    return grads
