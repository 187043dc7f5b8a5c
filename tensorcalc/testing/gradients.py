"""Check a student's gradients: against the full tensor chain of a network, or against central
differences of any loss of named parameters; fail with a report a student can act on."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping

import numpy as np

from ..backprop import backprop
from ..core.derivative import Derivative
from ..kinks import kinks
from ..network import Network
from ..network.conventions import Convention
from ..numeric import default_step
from .report import GradientCheck, check_param, diagnose
from .reproduce import reproducer

#: Tolerances of a hand-written gradient against ``backprop(method="full")``: both are exact
#: up to rounding, so only the order of summation may differ.
GRADIENT_TOLERANCES = {np.dtype(np.float64): (1e-7, 1e-10), np.dtype(np.float32): (1e-3, 1e-5)}
#: Against central differences (``check_gradients``).
NUMERIC_TOLERANCES = {np.dtype(np.float64): (1e-5, 1e-7), np.dtype(np.float32): (2e-2, 2e-3)}


def _as_array(name: str, value) -> np.ndarray:
    arr = value.dense() if isinstance(value, Derivative) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise AssertionError(f"gradient of {name} must be real numbers; got dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"gradient of {name} has non-finite entries: "
                             f"{int(np.sum(~np.isfinite(arr)))} of {arr.size}.")
    return arr.astype(np.float64)


def _collect(claimed, expected: Mapping[str, np.ndarray], convention: Convention) -> dict:
    __tracebackhide__ = True
    if not isinstance(claimed, Mapping):
        raise AssertionError(f"the gradient function must return a mapping from parameter name "
                             f"to gradient; it returned {type(claimed).__name__}.")
    got = convention.read(claimed, list(expected))
    missing = [convention.name(k) for k in expected if k not in got]
    if missing:
        raise AssertionError(f"the gradient function returned no gradient for {missing} "
                             f"(it returned {sorted(claimed)}).")
    arrays = {}
    for name, ref in expected.items():
        arr = _as_array(name, got[name])
        if arr.shape != ref.shape:
            hint = (" It is the parameter's shape transposed: weights stored (in, out)? Pass "
                    "weights='in_out'." if arr.shape == ref.shape[::-1] and arr.ndim == 2
                    else " Biases as (n, 1) columns? Pass bias='column'."
                    if arr.shape == ref.shape + (1,) else "")
            raise AssertionError(f"gradient of {name} has shape {arr.shape}; it must have the "
                                 f"parameter's shape {ref.shape}.{hint}")
        arrays[name] = arr
    return arrays


def gradient_check(grad_fn: Callable, net: Network, x, y, *, weights="out_in",
                   samples="rows", bias="flat", names=None) -> GradientCheck:
    """Every gradient of ``grad_fn`` against ``backprop(method="full")``, in one report.

    ``grad_fn`` may also be the student's gradients themselves: a mapping, or a list in the
    order of ``net.params``. Without options ``grad_fn(net, x, y)`` is called. With any option
    it is called as ``grad_fn(params, x, y)`` in the student's convention
    (``weights="in_out"``: W transposed; ``samples="columns"``: x as (n0, N) and float targets
    as (k, N); ``bias="column"``: biases (n, 1); ``names={"W1": "dW1", ...}``: keys renamed),
    and what it returns is read back in that convention."""
    __tracebackhide__ = True
    convention = Convention.of(net, weights=weights, samples=samples, bias=bias, names=names)
    reference = backprop(net, x, y, "full")
    expected = {k: v.dense() for k, v in reference.items()}
    if isinstance(grad_fn, (list, tuple)):  # the gradients themselves, in the params' order
        claimed = {convention.name(k): g for k, g in zip(expected, grad_fn)}
    elif isinstance(grad_fn, Mapping):  # the gradients themselves
        claimed = grad_fn
    elif Convention(weights, samples, bias, names).is_default:
        claimed = grad_fn(net, x, y)
    else:
        sx, sy = convention.data(x, y)
        claimed = grad_fn(convention.params(net.params), sx, sy)
    yours = _collect(claimed, expected, convention)
    rtol, atol = GRADIENT_TOLERANCES.get(net.dtype, GRADIENT_TOLERANCES[np.dtype(np.float64)])
    checks = {k: check_param(k, yours[k], expected[k], rtol, atol) for k in expected}
    xs = np.asarray(x)
    samples_n = xs.shape[0] if xs.ndim > len(net.input_shape) else 1
    notes = []
    diagnosis = diagnose(yours, expected, checks, samples_n)
    if not all(c.ok for c in checks.values()):
        diagnosis += _first_wrong_delta(claimed, reference, convention)
        at_kink = kinks(net.forward(x), net.loss_fn.name, net.loss_fn.targets(net(x), y), 0.0)
        notes = [f"an input sits exactly at a kink: {k}; yours may use the other side"
                 for k in at_kink]
    return GradientCheck(checks, diagnosis, reproducer(net, x, y),
                         f"tolerance {rtol:g} relative plus {atol:g} of the largest entry", notes)


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


def assert_gradients_match(grad_fn: Callable, net: Network, x, y, *, weights="out_in",
                           samples="rows", bias="flat", names=None) -> None:
    """Fail when any gradient of ``grad_fn`` differs from the full tensor chain: every wrong
    parameter with its worst entry, a diagnosis, and a snippet that rebuilds the case. The
    options are :func:`gradient_check`'s."""
    __tracebackhide__ = True
    report = gradient_check(grad_fn, net, x, y, weights=weights, samples=samples, bias=bias,
                            names=names)
    if not report.ok:
        raise AssertionError(str(report))


def check_gradients(loss_fn: Callable, params: Mapping[str, object],
                    grads: Mapping[str, object], *, eps: float | None = None) -> GradientCheck:
    """Your ``grads`` of ``loss_fn(params)`` (any scalar function of a dict of named arrays:
    a hinge loss plus regularisation, a custom layer) against central differences, parameter
    by parameter, in the same report as :func:`assert_gradients_match`.

    >>> import numpy as np, tensorcalc as tc
    >>> W = np.array([[1.0, -2.0], [0.5, 3.0]])
    >>> loss = lambda p: float(np.sum(p["W"] ** 2) + 3 * p["c"].sum())
    >>> tc.check_gradients(loss, {"W": W, "c": np.ones(2)}, {"W": 2 * W, "c": 3 * np.ones(2)}).ok
    True
    """
    arrays = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    expected, notes = {}, []
    start, total = time.perf_counter(), sum(v.size for v in arrays.values())
    done = 0
    for name, value in arrays.items():
        expected[name], kink = _central(loss_fn, arrays, name, eps)
        if kink:
            notes.append(f"{name}: the loss is not smooth within the step at entry {kink} "
                         f"(a kink: relu'(0), a hinge, a max tie); the numeric value there is a "
                         f"mix of the two one-sided slopes")
        done += value.size
        if time.perf_counter() - start > 2:
            print(f"\rcentral differences: {done:,} of {total:,} entries", end="",
                  file=sys.stderr)
    yours = _collect(grads, expected, Convention())
    rtol, atol = NUMERIC_TOLERANCES[np.dtype(np.float64)]
    checks = {k: check_param(k, yours[k], expected[k], rtol, atol) for k in expected}
    return GradientCheck(checks, diagnose(yours, expected, checks), "",
                         f"central differences, tolerance {rtol:g} relative plus {atol:g} of "
                         f"the largest entry", notes)


def _central(loss_fn, arrays: dict, name: str, eps):
    """Central differences of ``loss_fn`` by ``arrays[name]``, and the first entry where the
    two one-sided slopes disagree (a kink within the step), if any."""
    value = arrays[name]
    flat = value.reshape(-1)
    grad = np.empty(flat.size)
    base = default_step(np.float64) if eps is None else float(eps)
    f0 = float(loss_fn(arrays))
    kink = None
    for k in range(flat.size):
        h = base * max(1.0, abs(float(flat[k])))
        keep = flat[k]
        flat[k] = keep + h
        fp = float(loss_fn(arrays))
        flat[k] = keep - h
        fm = float(loss_fn(arrays))
        flat[k] = keep
        grad[k] = (fp - fm) / (2 * h)
        right, left = (fp - f0) / h, (f0 - fm) / h
        if kink is None and abs(right - left) > 1e-3 * max(1.0, abs(right), abs(left)):
            kink = tuple(int(i) for i in np.unravel_index(k, value.shape))
    return grad.reshape(value.shape), kink
