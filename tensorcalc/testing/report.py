"""A gradient check a student can act on: every parameter with its worst entry, an error that
stays readable where the expected entry is 0, a diagnosis when one pattern explains the whole
gradient, and (for networks) a snippet that rebuilds the failing case."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ParamCheck:
    """One parameter: its worst entry by index, yours against the expected value, the absolute
    error and the error relative to the largest entry of the expected gradient."""

    name: str
    shape: tuple[int, ...]
    ok: bool
    index: tuple[int, ...]
    yours: float
    expected: float
    abs_error: float
    rel_error: float
    largest: float

    def line(self) -> str:
        where = f"[{', '.join(map(str, self.index))}]" if self.index else "(scalar)"
        return (f"{self.name} {self.shape}: worst entry {where}: yours {self.yours:.6g}, "
                f"expected {self.expected:.6g}; error {self.abs_error:.3g}, "
                f"{self.rel_error:.3g}x the largest entry {self.largest:.3g}")


def check_param(name: str, yours: np.ndarray, expected: np.ndarray, rtol: float,
                atol: float) -> ParamCheck:
    """Yours against expected: ok when every ``|yours - expected| <= rtol |expected| + atol *
    largest``; the error is reported relative to the largest expected entry (at least
    ``atol``), never to a zero entry."""
    diff = np.abs(yours - expected)
    largest = float(np.max(np.abs(expected), initial=0.0))
    excess = diff - rtol * np.abs(expected) - atol * max(largest, 1.0)
    ok = bool(np.all(excess <= 0))
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    worst = tuple(int(i) for i in worst)
    a, e = (float(yours[worst]), float(expected[worst])) if diff.size else (0.0, 0.0)
    return ParamCheck(name, tuple(expected.shape), ok, worst, a, e, abs(a - e),
                      abs(a - e) / max(largest, atol, 1e-300), largest)


def _ratio(yours: np.ndarray, expected: np.ndarray) -> float | None:
    """c when yours is c times expected everywhere (to 1e-6 relative), else None."""
    denom = float(np.sum(expected * expected))
    if denom == 0:
        return None
    c = float(np.sum(yours * expected)) / denom
    if np.max(np.abs(yours - c * expected)) <= 1e-6 * np.max(np.abs(expected)):
        return c
    return None


def _ratio_hint(c: float, samples: int) -> str:
    n = samples
    candidates = [(2.0, "a missing 1/2 factor (the 1/2 squared error)"),
                  (0.5, "a 1/2 factor where none is expected")]
    if n > 1:
        candidates += [
            (float(n), f"a sum over the N = {n} samples where their mean is expected"),
            (1.0 / n, f"a mean over the N = {n} samples where their sum is expected, or a 1/N "
                      f"applied twice"),
            (((n - 1) / n) ** 0.5, "sqrt((N-1)/N): sigma from the unbiased variance (1/(N-1)) "
                                   "where the biased one (1/N) is expected"),
            ((n / (n - 1)) ** 0.5, "sqrt(N/(N-1)): sigma from the biased variance (1/N) where "
                                   "the unbiased one (1/(N-1)) is expected")]
    hints = [text for value, text in candidates if np.isclose(c, value, rtol=1e-6)]
    return " or ".join(hints) + "?" if hints else "a constant factor too many or too few?"


def diagnose(yours: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
             checks: Mapping[str, ParamCheck], samples: int = 1) -> list[str]:
    """Lines naming a pattern that explains a wrong gradient: a constant ratio, a sign flip, a
    transpose, a zero gradient, right weights with wrong biases."""
    found: dict[str, list[str]] = {}
    wrong = [n for n, c in checks.items() if not c.ok]
    for name in wrong:
        a, e = yours[name], expected[name]
        text = None
        if not np.any(a) and np.any(e):
            text = "yours is zero: a gradient never written, or a delta lost on the way back?"
        elif a.ndim == 2 and a.shape[0] == a.shape[1] and np.allclose(a.T, e, rtol=1e-6,
                                                                       atol=1e-12):
            text = ("yours is the transpose of the expected: delta a^T and a delta^T swapped, "
                    "or (in, out) against (out, in) weights?")
        elif (c := _ratio(a, e)) is not None:
            text = ("the sign is flipped: (y - a) where (a - y) is expected, or the descent "
                    "step's minus sign folded in?" if np.isclose(c, -1.0, rtol=1e-6) else
                    f"yours is {c:.3f}x the expected: {_ratio_hint(c, samples)}")
        if text:
            found.setdefault(text, []).append(name)
    lines = [f"{'every wrong gradient' if len(names) == len(wrong) > 1 else ', '.join(names)}: "
             f"{text}" for text, names in found.items()]
    if wrong and all(n[:1] == "b" for n in wrong) and any(n[:1] == "W" for n in checks):
        lines.append("the weights are right and the biases are not: a bias gradient summed "
                     "over the wrong axis, or not summed over the samples?")
    return lines


@dataclass
class GradientCheck:
    """Every parameter's check, the diagnosis, and a snippet that rebuilds the case."""

    checks: dict[str, ParamCheck]
    diagnosis: list[str] = field(default_factory=list)
    reproducer: str = ""
    tolerance: str = ""
    notes: list[str] = field(default_factory=list)
    #: Failures that are not a wrong value: a wrong shape, an exception in the student's code.
    problems: list[str] = field(default_factory=list)
    #: What leaves the check passing but deserves a word (``strict``: they fail it too).
    warnings: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def ok(self) -> bool:
        return (all(c.ok for c in self.checks.values()) and not self.problems
                and not (self.strict and self.warnings))

    @property
    def wrong(self) -> list[str]:
        return [n for n, c in self.checks.items() if not c.ok]

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:  # a passing assert's returned report reads the same in a REPL
        return str(self)

    def __str__(self) -> str:
        wrong = self.wrong
        noun = "checks" if "out" in self.checks else "gradients"  # a layer's forward too
        head = (f"every {'check passes' if noun == 'checks' else 'gradient matches'}"
                if not wrong else f"{len(wrong)} of {len(self.checks)} {noun} are wrong "
                f"({', '.join(wrong)})") + (f"; {self.tolerance}" if self.tolerance else "")
        if self.problems:
            head = (f"FAILED: {len(self.problems)} problem(s) below"
                    + (f"; of the gradients checked, {head}" if self.checks else ""))
        lines = [head] + [f"  {'ok   ' if c.ok else 'WRONG'} {c.line()}"
                          for c in self.checks.values()]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"diagnosis: {d}" for d in self.diagnosis]
        lines += [f"{'FAILED (strict)' if self.strict else 'warning'}: {w}"
                  for w in self.warnings]
        lines += [f"note: {n}" for n in self.notes]
        if self.reproducer and not self.ok:
            lines += ["rebuild this case:"] + ["    " + ln for ln in self.reproducer.splitlines()]
        return "\n".join(lines)
