"""Check a student's layer functions, ``out, cache = forward(x, w, ...)`` and ``dx, dw, ... =
backward(dout, cache)``, or a student's gradients given as values, against the exact structured
chain of a registry layer (or central differences), with a report a student can act on."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..errors import TensorcalcError
from .arguments import output_shape_problem, require_dout, require_inputs
from .gradients import GRADIENT_TOLERANCES, NUMERIC_TOLERANCES, _central
from .layer_diagnosis import (
    changed,
    dropout_line,
    returned_none,
    shape_problem,
    snapshot,
    student_traceback,
    ties_line,
)
from .layer_hints import diagnose_layer
from .layer_snippet import snippet
from .reference import like, spelled, to_numpy
from .reference import reference as exact
from .report import GradientCheck, check_param


def _dout_stream(seed: int) -> np.random.Generator:
    """A stream of its own for ``dout``, never the one the data may come from."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x64_6F_75_74,)))


def _float32(arrays: Mapping[str, np.ndarray]) -> bool:
    return any(a.dtype == np.float32 for a in arrays.values())


def _tolerance(arrays, numeric: bool) -> tuple[float, float, str]:
    table = NUMERIC_TOLERANCES if numeric else GRADIENT_TOLERANCES
    dtype = np.dtype(np.float32 if _float32(arrays) else np.float64)
    rtol, atol = table[dtype]
    against = "central differences" if numeric else "the exact structured chain"
    return rtol, atol, (f"against {against}, {dtype} tolerances: {rtol:g} relative plus "
                        f"{atol:g} of the largest entry")


def _compare(yours_raw: Mapping, expected: Mapping[str, np.ndarray], rtol, atol, report):
    """Fill ``report.checks`` (and shape problems); return the student's arrays."""
    yours = {}
    for name, want in expected.items():
        if name not in yours_raw:
            continue
        got = to_numpy(yours_raw[name])
        if got.shape != want.shape:
            report.problems.append(shape_problem(name, got, want))
            continue
        if got.dtype.kind not in "biuf" or not np.all(np.isfinite(got)):
            report.problems.append(f"d{name} has non-finite or non-numeric entries.")
            continue
        yours[name] = got.astype(np.float64)
        report.checks[f"d{name}"] = check_param(f"d{name}", yours[name], want, rtol, atol)
    return yours


def _vacuous(report, expected, dout) -> None:
    scale = float(np.abs(dout).max(initial=0.0))
    for name, e in expected.items():
        if scale and e.size and float(np.abs(e).max()) <= 1e-12 * scale * max(1.0, e.size):
            report.warnings.append(
                f"the expected d{name} is zero for this dout, so its check could not fail "
                f"(batch norm's dx is zero when dout is constant over the batch): use a "
                f"random dout (the default)")


def check_layer(forward: Callable, backward: Callable, inputs: Mapping[str, object], *args,
                reference=None, dout=None, seed: int = 0, strict: bool = False
                ) -> GradientCheck:
    """Check a student's layer: ``out, cache = forward(*inputs.values(), *args)`` and
    ``grads = backward(dout, cache)`` (one gradient per float input, in order; one array when
    there is one) against central differences of ``sum(out * dout)``, or, with
    ``reference=`` a registry layer or a list of them, against its exact structured chain
    (the forward value is checked too). ``inputs`` map in order to the layer's input and then
    its parameters in the layer's order (W or K, b; gamma, beta; C); integer inputs (an
    embedding's ids) pass through and get no gradient. ``dout`` is drawn from a stream of its
    own (``seed``) unless given, and reaches ``backward`` in the array type of the first
    input. The samples are along axis 0. Never raises on a mismatch: read ``.ok`` and print
    the report (a forward output of another shape than the reference's, a backward that
    returns None, is a problem in it); ``strict=True`` also fails on a backward that writes
    into ``dout`` or the cache. A ``dout`` given must have exactly the output's shape.

    >>> import numpy as np, tensorcalc as tc
    >>> def relu_forward(x):
    ...     return np.maximum(x, 0), x
    >>> def relu_backward(dout, x):
    ...     return dout * (x > 0)
    >>> x = np.array([[1.5, -2.0, 0.5], [-0.3, 2.0, -1.0]])
    >>> tc.check_layer(relu_forward, relu_backward, {"x": x}, reference=tc.Activation("relu")).ok
    True
    """
    __tracebackhide__ = True
    require_inputs(inputs, "check_layer")
    given = dict(inputs)
    arrays = {k: to_numpy(v) for k, v in given.items()}
    floats = [k for k, a in arrays.items() if a.dtype.kind == "f"]
    rtol, atol, tolerance = _tolerance({k: arrays[k] for k in floats}, reference is None)
    report = GradientCheck({}, tolerance=tolerance, strict=strict)
    report.reproducer = snippet(forward, backward, given, args, reference, dout, seed)
    try:
        result = forward(*(v.clone() if hasattr(v, "clone") else np.array(v, copy=True)
                           for v in given.values()), *args)
    except Exception as err:  # the student's code: report it, never raise
        return _crashed(report, "forward", err, reference, arrays)
    if not isinstance(result, tuple) or len(result) != 2:
        report.problems.append(f"forward must return (out, cache); it returned "
                               f"{type(result).__name__}.")
        return report
    out, cache = result
    out_arr = to_numpy(out)
    if reference is not None:
        ref_out = exact(reference, given, student_out=out_arr).out
        if ref_out.shape != out_arr.shape:
            report.problems.append(output_shape_problem(out_arr.shape, ref_out.shape,
                                                        spelled(reference), args))
            return report
    d = to_numpy(dout) if dout is not None else _dout_stream(seed).standard_normal(out_arr.shape)
    require_dout(d, out_arr.shape)
    d = d.astype(np.float64)
    passed = _dout_like(given, floats, d)
    before = (snapshot(passed), snapshot(cache))
    try:
        grads = backward(passed, cache)
    except Exception as err:
        return _crashed(report, "backward", err, reference, arrays)
    _in_place(report, before, passed, cache)
    grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
    if returned_none(report, grads, floats):
        return report
    if len(grads) != len(floats):
        report.problems.append(f"backward returned {len(grads)} gradient(s); expected one per "
                               f"float input, in order: {', '.join('d' + k for k in floats)}.")
        return report
    if reference is None:
        expected = _numeric(forward, given, args, d, floats, report)
    else:
        ref = exact(reference, given, d, student_out=out_arr)
        expected, reference = ref.grads, ref.layers
        _forward_check(report, out_arr, ref.out, rtol, atol)
        line = dropout_line(reference, arrays[next(iter(arrays))], out_arr)
        report.diagnosis += [line] if line else []
    yours = _compare(dict(zip(floats, grads)), expected, rtol, atol, report)
    diagnose_layer(report, yours, expected, arrays, reference, given, d, rtol)
    _vacuous(report, expected, d)
    return report


def check_vjp(reference, inputs: Mapping[str, object], dout, grads: Mapping[str, object]
              ) -> GradientCheck:
    """Your gradients given as values (a notebook's cells, not functions): ``grads`` (a dict
    keyed by input names, any subset: e.g. only ``"x"``) against the exact backward of the
    ``reference`` layer(s) at ``inputs`` with upstream gradient ``dout``, in the report of
    :func:`check_layer`.

    >>> import numpy as np, tensorcalc as tc
    >>> x, W = np.ones((2, 3)), np.arange(6.0).reshape(3, 2)
    >>> dout = np.array([[1.0, -1.0], [0.5, 2.0]])
    >>> tc.check_vjp(tc.Dense(2, bias=False, weights="in_out"), {"x": x, "W": W}, dout,
    ...              {"x": dout @ W.T, "W": x.T @ dout}).ok
    True
    """
    __tracebackhide__ = True
    require_inputs(inputs, "check_vjp")
    arrays = {k: to_numpy(v) for k, v in dict(inputs).items()}
    unknown = [k for k in grads if k not in arrays]
    if unknown:
        raise TensorcalcError(f"grads has {unknown}, which are not inputs; the inputs are "
                              f"{list(arrays)}.")
    floats = {k: arrays[k] for k in grads}
    rtol, atol, tolerance = _tolerance(floats, numeric=False)
    report = GradientCheck({}, tolerance=tolerance)
    d = to_numpy(dout).astype(np.float64)
    expected = {k: v for k, v in exact(reference, inputs, d).grads.items() if k in grads}
    yours = _compare(grads, expected, rtol, atol, report)
    diagnose_layer(report, yours, expected, arrays, reference, inputs, d, rtol)
    _vacuous(report, expected, d)
    return report


def assert_layer_matches(forward: Callable, backward: Callable, inputs, *args,
                         **options) -> GradientCheck:
    """:func:`check_layer`, raising ``AssertionError`` with its report on a mismatch and
    returning the report when it passes."""
    __tracebackhide__ = True
    report = check_layer(forward, backward, inputs, *args, **options)
    if not report.ok:
        raise AssertionError(str(report))
    return report


def assert_vjp_matches(reference, inputs, dout, grads) -> GradientCheck:
    """:func:`check_vjp`, raising ``AssertionError`` with its report on a mismatch and
    returning the report when it passes."""
    __tracebackhide__ = True
    report = check_vjp(reference, inputs, dout, grads)
    if not report.ok:
        raise AssertionError(str(report))
    return report


def _dout_like(given: Mapping, floats: list[str], d: np.ndarray):
    """``dout`` in the array type of the first input (numpy or torch) and the dtype of the
    first float input."""
    first = next(iter(given.values()))
    template = given[floats[0]] if floats else None
    if hasattr(first, "new_tensor"):
        return (template if hasattr(template, "new_tensor") else first.double()).new_tensor(d)
    return np.array(d, dtype=to_numpy(template).dtype if template is not None else np.float64)


def _crashed(report, where, err, reference, arrays):
    text = f"your {where} raised an exception:\n{student_traceback(err)}"
    report.problems.append(text)
    line = ties_line(reference, arrays)
    report.diagnosis += [line] if line else []
    return report


def _in_place(report, before, dout, cache) -> None:
    for what, old, now in (("dout", before[0], dout), ("the cache", before[1], cache)):
        n = changed(old, now)
        if n:
            report.warnings.append(
                f"your backward modified {what} in place ({n} entries changed): a caller that "
                f"reuses it (a residual branch passes the same dout on) gets wrong gradients; "
                f"copy before writing (dout = dout.copy())")


def _forward_check(report, out: np.ndarray, ref: np.ndarray, rtol, atol) -> None:
    """The forward value against the reference's (its shape was checked before)."""
    report.checks["out"] = check_param("out", out.astype(np.float64), ref, rtol, atol)


def _numeric(forward, given, args, dout, floats, report) -> dict[str, np.ndarray]:
    """Central differences of ``sum(forward(...)[0] * dout)`` by each float input, computed
    in float64."""
    wide = {k: (v.detach().double() if hasattr(v, "detach") else
                np.asarray(v, dtype=np.float64)) if k in floats else v
            for k, v in given.items()}
    arrays = {k: to_numpy(wide[k]).astype(np.float64) for k in floats}

    def total(values):
        call = [like(wide[k], values[k]) if k in floats else wide[k] for k in given]
        return float(np.sum(to_numpy(forward(*call, *args)[0]) * dout))

    expected = {}
    for name in floats:
        expected[name], kink = _central(total, arrays, name, None)
        if kink:
            report.notes.append(f"{name}: the output is not smooth within the step at entry "
                                f"{kink} (a kink); the numeric value there mixes the two sides")
    return expected
