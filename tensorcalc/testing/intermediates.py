"""Check a manual backprop intermediate by intermediate: a student's dC/d(output of layer l)
arrays against ``backprop(..., intermediates=True)``, naming the first one that goes wrong on
the way back from the loss."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np

from ..backprop import backprop
from ..core.validate import plain_array
from ..errors import TensorcalcError
from .arguments import require_at
from .gradients import GRADIENT_TOLERANCES
from .report import GradientCheck, check_param, diagnose


def intermediates_check(student: Mapping[str, object], net, x, y,
                        at: Mapping[int, str]) -> GradientCheck:
    """The student's intermediates (``student[key]`` for each ``at = {layer: key}``, the
    direction of ``names=``: tensorcalc's 1-based layer index to the student's key; only those
    keys are read, so a notebook's ``globals()`` will do) against dC/d(output of that layer),
    in one report whose diagnosis names the first wrong one walking back from the loss. An
    array of another shape is a failure naming both shapes, except one that differs only by
    singleton axes ((1, n) for (n,)), which is compared and noted; a key the student does not
    have is a failure too, with the nearest keys they do have. ``at`` of another form (a key
    for an index, say, or an index the network does not have) is a
    :class:`~tensorcalc.TensorcalcError` saying what it should hold.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.stack([tc.Dense(3), "tanh", tc.Dense(2)], input_shape=(2,),
    ...                        loss="squared_error")
    >>> x, y = np.ones((4, 2)), np.zeros((4, 2))
    >>> z = net.forward(x).records[2].ctx.y  # the last dense layer's output
    >>> tc.testing.intermediates_check({"dz2": 2 * z / 4}, net, x, y, at={3: "dz2"}).ok
    True
    """
    __tracebackhide__ = True
    n = len(net.layers)
    require_at(at, n)
    missing = [key for key in at.values() if key not in student]
    bad = [l for l in at if not (isinstance(l, int) and 1 <= l <= n)]
    if bad:
        listed = ", ".join(f"{k} {layer!r}" for k, layer in enumerate(net.layers, 1))
        raise TensorcalcError(f"at has layer indices {bad}, which are not in 1..{n}: the "
                              f"network's layers are {listed}; map each index to the key of "
                              f"your gradient by that layer's output.")
    reference = backprop(net, x, y, "full", intermediates=True).intermediates
    rtol, atol = GRADIENT_TOLERANCES[np.dtype(np.float64)]
    checks, yours, expected, problems, notes = {}, {}, {}, _missing(missing, student), []
    order, misshapen = [], set(missing)  # every key in the order backprop meets them
    for l in sorted(at, reverse=True):
        key, want = at[l], reference[l].dense()
        order.append(key)
        if key in misshapen:
            continue
        got = plain_array(student[key]).astype(np.float64)
        if got.shape != want.shape:
            if _squeezed(got.shape) == _squeezed(want.shape):
                notes.append(f"{key}: your {got.shape} compared as layer {l}'s {want.shape}")
                got = got.reshape(want.shape)
            else:
                problems.append(f"{key} has shape {got.shape}; layer {l}'s output "
                                f"({net.layers[l - 1]!r}) has shape {want.shape}.")
                misshapen.add(key)
                continue
        yours[key], expected[key] = got, want
        checks[key] = check_param(key, got, want, rtol, atol)
    samples = np.shape(x)[0] if np.ndim(x) > len(net.input_shape) else 1
    report = GradientCheck(checks, diagnose(yours, expected, checks, samples), "",
                           f"tolerance {rtol:g} relative plus {atol:g} of the largest entry",
                           notes, problems)
    wrong = [k for k in order if k in misshapen or not checks[k].ok]
    if wrong:
        later = order[:order.index(wrong[0])]  # nearer the loss, all of them right
        verb = "matches" if len(later) == 1 else "match"
        report.diagnosis.insert(0, f"{wrong[0]} is where it goes wrong walking back from the "
                                   f"loss" + (f"; {', '.join(later)} {verb}" if later else ""))
    return report


def _missing(missing: list[str], student: Mapping) -> list[str]:
    """The problem line for keys of ``at`` the student does not have, with near names."""
    if not missing:
        return []
    near = {k: difflib.get_close_matches(k, [str(s) for s in student], n=2) for k in missing}
    hints = "; ".join(f"{k}: did you mean {', '.join(v)}?" for k, v in near.items() if v)
    return [f"no {missing} among your intermediates" + (f" ({hints})" if hints else "") + "."]


def _squeezed(shape: tuple) -> tuple:
    """The shape without its leading and trailing 1s: (1, n) and (n,) compare equal, (n, 1, m)
    and (n, m) do not."""
    shape = list(shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    while shape and shape[-1] == 1:
        shape.pop()
    return tuple(shape)


def assert_intermediates_match(student: Mapping[str, object], net, x, y,
                               at: Mapping[int, str]) -> GradientCheck:
    """:func:`intermediates_check`, raising ``AssertionError`` with its report on a mismatch
    and returning the report when every intermediate matches (so it can be printed).

    >>> import numpy as np, tensorcalc as tc
    >>> from tensorcalc import strategies as tcs
    >>> net = tc.Network.stack([tc.Dense(3), "tanh", tc.Dense(2)], input_shape=(2,),
    ...                        loss="squared_error")
    >>> x, y = np.ones((4, 2)), np.zeros((4, 2))
    >>> z = net.forward(x).records[2].ctx.y
    >>> tcs.assert_intermediates_match({"dz2": 2 * z / 4}, net, x, y, at={3: "dz2"}).ok
    True
    >>> tcs.assert_intermediates_match({"dz2": z / 4}, net, x, y, at={3: "dz2"})
    Traceback (most recent call last):
    AssertionError: 1 of 1 gradients are wrong (dz2)...
    """
    __tracebackhide__ = True
    report = intermediates_check(student, net, x, y, at)
    if not report.ok:
        raise AssertionError(str(report))
    return report
