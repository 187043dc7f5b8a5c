"""Check a student's gradients: against the full tensor chain of a network, or against central
differences of any loss of named parameters; fail with a report a student can act on."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping

import numpy as np

from ..backprop import backprop
from ..core.validate import plain, plain_array
from ..errors import TensorcalcError
from ..kinks import kinks
from ..network import Network
from ..network.conventions import Convention
from ..numeric import default_step
from .convert import read_gradients
from .layer_diagnosis import table_lines
from .report import GradientCheck, check_param, diagnose
from .reproduce import reproducer

#: Tolerances of a hand-written gradient against ``backprop(method="full")``: both are exact
#: up to rounding, so only the order of summation may differ.
GRADIENT_TOLERANCES = {np.dtype(np.float64): (1e-7, 1e-10), np.dtype(np.float32): (1e-3, 1e-5)}
#: Against central differences (``check_gradients``).
NUMERIC_TOLERANCES = {np.dtype(np.float64): (1e-5, 1e-7), np.dtype(np.float32): (2e-2, 2e-3)}


def _student_params(net: Network, convention: Convention) -> dict:
    """The network's parameters as the student holds them: convention, names and shapes."""
    theirs = convention.params(net.params)
    for ours, shape in net.student.shapes.items():
        theirs[convention.name(ours)] = np.array(net.params[ours]).reshape(shape)
    return theirs


def _tolerances(table: dict, float32: bool) -> tuple[float, float, str]:
    rtol, atol = table[np.dtype(np.float32 if float32 else np.float64)]
    return rtol, atol, (f"{'float32' if float32 else 'float64'} tolerances: {rtol:g} relative "
                        f"plus {atol:g} of the largest entry")


def _zero_floors(expected: Mapping[str, np.ndarray], atol: float) -> tuple[dict, list[str]]:
    """For a gradient that is zero up to rounding (a dense layer's bias right before a batch
    norm), an absolute floor relative to the network's largest gradient entry, and a note."""
    largest = {k: float(np.max(np.abs(v), initial=0.0)) for k, v in expected.items()}
    top = max(largest.values(), default=0.0)
    floors, notes = {}, []
    for name, value in largest.items():
        if top > 0 and value <= atol * top:
            floors[name] = atol * max(top, 1.0)
            notes.append(f"{name}: the expected gradient is zero (up to rounding: a bias right "
                         f"before a normalisation has no effect); yours is compared with an "
                         f"absolute floor of {floors[name]:.3g} ({atol:g} of the network's "
                         f"largest gradient entry, {top:.3g}, or of 1)")
    return floors, notes


def gradient_check(grad_fn: Callable, net: Network, x, y, *, weights=None,
                   samples="rows", bias="flat", names=None,
                   check_input: bool = False) -> GradientCheck:
    """Every gradient of ``grad_fn`` against ``backprop(method="full")``, in one report.

    ``grad_fn`` may also be the student's gradients themselves: a mapping, or a list in the
    order of the network's parameters (of the list or ``names`` it was built from). Without
    options ``grad_fn(net, x, y)`` is called. With any option it is called as
    ``grad_fn(params, x, y)`` in the student's convention (``weights="in_out"``: W as (in,
    out), ``"out_in"``: as (out, in); by default each W as the network stores it;
    ``samples="columns"``: x as (n0, N) and float targets as (k, N); ``bias="column"``: biases
    (n, 1); ``names={"W1": "dW1", ..., "x": "dx"}``: keys renamed), and what it returns is read
    back in that convention. A network built from the student's arrays
    (``Network.stack(..., params=..., names=...)``) reads and reports gradients in the
    student's names and expects each in the shape the student holds its parameter in.
    ``check_input=True`` also checks the student's ``"x"``, dC/dx. Gradients may be numpy
    arrays, nested lists or torch tensors; float32 ones (or a float32 network) are held to
    float32 tolerances, and the report says so.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 2], output="identity", seed=0)
    >>> x, y = np.array([1.0, 2.0, -1.0]), np.zeros(2)
    >>> r = 2 * (net(x) - y)  # dC/dz for C = sum (z - y)^2
    >>> mine = {"W1": np.outer(r, x), "b1": r, "x": net.params["W1"].T @ r}
    >>> print(tc.testing.gradient_check(mine, net, x, y, check_input=True))
    every gradient matches; float64 tolerances: 1e-07 relative plus 1e-10 of the largest entry
      ok    W1 (2, 3): ...
      ok    b1 (2,): ...
      ok    x (3,): ...
    """
    __tracebackhide__ = True
    x, y = plain(x), plain(y)
    student = net.student
    convention = Convention.of(net, weights=weights, samples=samples, bias=bias,
                               names=dict(student.names) if names is None else names)
    if check_input and net.layers[0].kind == "embedding":
        raise TensorcalcError("check_input=True compares dC/dx, but this network's input is "
                              "an embedding's integer token ids, which have no derivative.")
    reference = backprop(net, x, y, "full", input_grad=check_input)
    expected = {k: v.dense() for k, v in reference.items()}
    if isinstance(grad_fn, (list, tuple)):  # the gradients themselves, in the student's order
        order = [*student.order] + (["x"] if check_input else [])
        if len(grad_fn) != len(order):
            raise AssertionError(f"you gave {len(grad_fn)} gradients; expected {len(order)}, "
                                 f"in the order {', '.join(map(student.name, order))}.")
        claimed = {convention.name(k): g for k, g in zip(order, grad_fn)}
    elif isinstance(grad_fn, Mapping):  # the gradients themselves
        claimed = grad_fn
    elif Convention(weights, samples, bias, names).is_default:
        claimed = grad_fn(net, x, y)
    else:
        sx, sy = convention.data(x, y)
        claimed = grad_fn(_student_params(net, convention), sx, sy)
    yours, wanted, float32 = read_gradients(claimed, expected, convention, student)
    rtol, atol, tolerance = _tolerances(GRADIENT_TOLERANCES,
                                        float32 or net.dtype == np.float32)
    floors, notes = _zero_floors(wanted, atol)
    checks = {k: check_param(k, yours[k], wanted[k], rtol, floors.get(k, atol)) for k in wanted}
    xs = np.asarray(x)
    samples_n = xs.shape[0] if xs.ndim > len(net.input_shape) else 1
    diagnosis = diagnose(yours, wanted, checks, samples_n)
    if not all(c.ok for c in checks.values()):
        diagnosis += _first_wrong_delta(claimed, reference, convention)
        diagnosis += table_lines(net, x, yours, wanted, student.name)
        at_kink = kinks(net.forward(x), net.loss_fn.name, net.loss_fn.targets(net(x), y), 0.0)
        notes += [f"an input sits exactly at a kink: {k}; yours may use the other side"
                  for k in at_kink]
    return GradientCheck(checks, diagnosis, reproducer(net, x, y), tolerance, notes)


def _first_wrong_delta(claimed, reference, convention: Convention) -> list[str]:
    """When the student also returns ``delta1``, ``delta2``, ... (dC/dz^l), the layer where the
    deltas first go wrong, walking back from the output."""
    steps = {s.target: s for s in reference.trace}
    theirs = sorted((int(k[5:]), k) for k in claimed if k[:5] == "delta" and k[5:].isdigit())
    for l, key in reversed(theirs):
        step = steps.get(f"delta^{l}")
        if step is None:
            continue
        mine = np.asarray(claimed[key], dtype=float)
        ref = step.result.compact
        if convention.samples == "columns" and mine.ndim == 2:
            mine = mine.T if mine.shape == ref.shape[::-1] else mine[:, 0]
        if mine.shape != ref.shape or not np.allclose(mine, ref, rtol=1e-7, atol=1e-10):
            later = [k for m, k in theirs if m > l]
            return [f"{key} is where it goes wrong ({step.shortcut})"
                    + (f"; {', '.join(later)} match" if later else "")]
    return []


def gradients_match(grad_fn: Callable, net: Network, x, y, **convention) -> bool:
    """True when every gradient of ``grad_fn`` matches ``backprop(method="full")``."""
    return gradient_check(grad_fn, net, x, y, **convention).ok


def assert_gradients_match(grad_fn: Callable, net: Network, x, y, *, weights=None,
                           samples="rows", bias="flat", names=None,
                           check_input: bool = False) -> GradientCheck:
    """Fail when any gradient of ``grad_fn`` differs from the full tensor chain: every wrong
    parameter with its worst entry, a diagnosis, and a snippet that rebuilds the case. The
    options are :func:`gradient_check`'s. When every gradient matches, the report is returned,
    so a passing check can be printed too."""
    __tracebackhide__ = True
    report = gradient_check(grad_fn, net, x, y, weights=weights, samples=samples, bias=bias,
                            names=names, check_input=check_input)
    if not report.ok:
        raise AssertionError(str(report))
    return report


def check_gradients(loss_fn: Callable, params: Mapping[str, object],
                    grads: Mapping[str, object], *, eps: float | None = None) -> GradientCheck:
    """Your ``grads`` of ``loss_fn(params)`` (any scalar function of a dict of named arrays:
    a hinge loss plus regularisation, a custom layer) against central differences, parameter
    by parameter, in the same report as :func:`assert_gradients_match`. Arrays may be numpy
    arrays, lists or torch tensors; float32 ones get float32 tolerances (and step).

    >>> import numpy as np, tensorcalc as tc
    >>> W = np.array([[1.0, -2.0], [0.5, 3.0]])
    >>> loss = lambda p: float(np.sum(p["W"] ** 2) + 3 * p["c"].sum())
    >>> tc.check_gradients(loss, {"W": W, "c": np.ones(2)}, {"W": 2 * W, "c": 3 * np.ones(2)}).ok
    True

    Where the loss has a kink within the step (relu'(0), a hinge at its margin, a max tie),
    central differences average the two sides; there either one-sided slope is accepted, and
    a note says which one yours is:

    >>> relu = lambda p: float(np.maximum(p["w"], 0).sum())
    >>> report = tc.check_gradients(relu, {"w": np.array([0.0, 2.0])}, {"w": [1.0, 1.0]})
    >>> report.ok
    True
    >>> print(report.notes[0])
    w: the loss has a kink within the step at (0,) (relu'(0), a hinge, a max tie); either
    one-sided slope is accepted there; yours matches the right-hand slope at (0,)
    """
    __tracebackhide__ = True
    given = {k: plain_array(v) for k, v in params.items()}
    float32 = any(v.dtype == np.float32 for v in given.values())
    arrays = {k: np.array(v, dtype=np.float64) for k, v in given.items()}
    step = default_step(np.float32 if float32 else np.float64) if eps is None else float(eps)
    expected, sides = {}, {}
    start, total = time.perf_counter(), sum(v.size for v in arrays.values())
    done = 0
    for name, value in arrays.items():
        expected[name], sides[name] = _central_sides(loss_fn, arrays, name, step)
        done += value.size
        if time.perf_counter() - start > 2:
            print(f"\rcentral differences: {done:,} of {total:,} entries", end="",
                  file=sys.stderr)
    yours, wanted, theirs32 = read_gradients(grads, expected, Convention())
    rtol, atol, tolerance = _tolerances(NUMERIC_TOLERANCES, float32 or theirs32)
    notes = [note for name in arrays if sides[name]
             for note in [_one_sided(name, yours[name], wanted[name], sides[name], rtol, atol)]]
    checks = {k: check_param(k, yours[k], wanted[k], rtol, atol) for k in wanted}
    return GradientCheck(checks, diagnose(yours, wanted, checks), "",
                         f"central differences, {tolerance}", notes)


def _one_sided(name: str, yours: np.ndarray, expected: np.ndarray, sides: dict, rtol: float,
               atol: float) -> str:
    """At each kinked entry, accept yours if it is either one-sided slope (writing that slope
    into ``expected``); the note says which side each entry matched, or that none did."""
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    matched, neither = [], []
    for index, (right, left) in sides.items():
        mine = float(yours[index])
        side = next((text for text, value in (("right-hand", right), ("left-hand", left))
                     if abs(mine - value) <= rtol * abs(value) + atol * scale), None)
        if side is None:
            neither.append(f"{index} (right {right:.6g}, left {left:.6g}, yours {mine:.6g})")
        else:
            expected[index] = right if side == "right-hand" else left
            matched.append(f"the {side} slope at {index}")
    at = list(sides)
    text = (f"{name}: the loss has a kink within the step at {', '.join(map(str, at[:4]))}"
            f"{' ...' if len(at) > 4 else ''} (relu'(0), a hinge, a max tie); either one-sided "
            f"slope is accepted there")
    if matched:
        text += f"; yours matches {', '.join(matched[:4])}{' ...' if len(matched) > 4 else ''}"
    if neither:
        text += (f"; yours matches neither side at {', '.join(neither[:4])}: the numeric value "
                 f"there is a mix of the two one-sided slopes")
    return text


def _central(loss_fn, arrays: dict, name: str, eps: float | None):
    """Central differences of ``loss_fn`` by ``arrays[name]``, and the first entry where the
    two one-sided slopes disagree (a kink within the step), if any."""
    step = default_step(np.float64) if eps is None else float(eps)
    grad, sides = _central_sides(loss_fn, arrays, name, step)
    return grad, next(iter(sides), None)


def _central_sides(loss_fn, arrays: dict, name: str, step: float):
    """Central differences of ``loss_fn`` by ``arrays[name]``, and, at every entry where the
    two one-sided slopes disagree (a kink within the step), both one-sided slopes to second
    order: ``{index: (right, left)}``."""
    value = arrays[name]
    flat = value.reshape(-1)
    grad = np.empty(flat.size)
    f0 = _value(loss_fn, arrays)
    sides = {}
    for k in range(flat.size):
        h = step * max(1.0, abs(float(flat[k])))
        keep = flat[k]
        f = {}
        for m in (1, -1):
            flat[k] = keep + m * h
            f[m] = _value(loss_fn, arrays)
        grad[k] = (f[1] - f[-1]) / (2 * h)
        right, left = (f[1] - f0) / h, (f0 - f[-1]) / h
        if abs(right - left) > 1e-3 * max(1.0, abs(right), abs(left)):
            for m in (2, -2):
                flat[k] = keep + m * h
                f[m] = _value(loss_fn, arrays)
            index = tuple(int(i) for i in np.unravel_index(k, value.shape))
            sides[index] = ((4 * f[1] - 3 * f0 - f[2]) / (2 * h),
                            (3 * f0 - 4 * f[-1] + f[-2]) / (2 * h))
        flat[k] = keep
    return grad.reshape(value.shape), sides


def _value(loss_fn, arrays) -> float:
    return float(np.asarray(plain(loss_fn(arrays))))
