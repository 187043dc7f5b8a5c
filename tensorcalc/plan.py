"""Compiled chains: the label algebra of a backprop, done once per structure and replayed.

Which labels a chain identifies, and so which einsum each step contracts, depends only on the
labels and shapes of the local derivatives, never on their numbers. ``compile_plan`` records, for
a chain traced once with :func:`tensorcalc.chain`, each step's einsum spec and where each of its
operands comes from (a factor of a local derivative, an earlier step's result, or a constant).
``run_plan`` replays it on the local derivatives of a new call with the same structure, so the
full tensor chain costs what its contractions cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import readonly
from .contract import contract_spec
from .derivative import Derivative, Factor


@dataclass(frozen=True)
class PlanStep:
    spec: str
    sources: tuple  # ("local", key, i) | ("step", k) | ("const", array), one per operand


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlanStep, ...]
    outputs: dict  # parameter name -> (step index, template Derivative)
    largest_bytes: int


def structure_key(local: dict) -> tuple:
    """What a plan depends on: every local derivative's labels, factor labels, shapes, dtypes."""
    return tuple(
        (key, d.out_labels, d.in_labels,
         tuple((f.labels, f.array.shape, f.array.dtype.char) for f in d.factors))
        for key, d in local.items()
    )


def compile_plan(local: dict, trace: list, grads: dict, largest_bytes: int) -> Plan:
    """A replayable program from one traced accumulation (``trace`` of Steps, ``grads``)."""
    where: dict[int, tuple] = {}
    for key, d in local.items():
        for i, f in enumerate(d.factors):
            where.setdefault(id(f.array), ("local", key, i))
    steps = []
    for k, step in enumerate(trace):
        joined = step.result
        sources = tuple(where.get(id(f.array), ("const", f.array)) for f in joined.factors)
        steps.append(PlanStep(joined.spec, sources))
        where[id(joined.compact)] = ("step", k)
    outputs = {}
    for name, g in grads.items():
        (k,) = [k for k, s in enumerate(trace) if s.result.compact is g.factors[0].array]
        outputs[name] = (k, g)
    return Plan(tuple(steps), outputs, largest_bytes)


def run_plan(plan: Plan, local: dict) -> dict[str, Derivative]:
    """Replay ``plan`` on new local derivatives of the same structure."""
    values: list[np.ndarray] = []
    for step in plan.steps:
        arrays = []
        for src in step.sources:
            if src[0] == "local":
                arrays.append(local[src[1]].factors[src[2]].array)
            elif src[0] == "step":
                arrays.append(values[src[1]])
            else:
                arrays.append(src[1])
        values.append(contract_spec(step.spec, arrays))
    grads = {}
    for name, (k, t) in plan.outputs.items():
        factor = Factor(readonly(values[k]), t.factors[0].labels, t.factors[0].symbol)
        grads[name] = Derivative((factor,), t.out_labels, t.in_labels, t.sizes, t.of, t.wrt,
                                 _checked=True)
    return grads
