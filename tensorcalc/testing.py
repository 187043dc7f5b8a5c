"""Assertions for coursework property tests: a hand-written gradient or Jacobian against the
library's references, failing with the checker's readable report.

>>> import numpy as np, tensorcalc as tc
>>> from tensorcalc.testing import assert_jacobian_matches
>>> z = np.array([0.3, -1.2])
>>> assert_jacobian_matches(np.diag(tc.sigmoid(z) * (1 - tc.sigmoid(z))), tc.sigmoid, z)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .backprop import backprop
from .core.derivative import Derivative
from .network import Network
from .numeric import CheckReport, compare_derivatives, numerical_derivative

#: Tolerances of a hand-written gradient against ``backprop(method="full")``: both are exact
#: up to rounding, so only the order of summation may differ.
GRADIENT_TOLERANCES = {np.dtype(np.float64): (1e-7, 1e-10), np.dtype(np.float32): (1e-3, 1e-5)}


def _note(text: str) -> None:
    try:
        from hypothesis import note
        from hypothesis.errors import InvalidArgument

        try:
            note(text)
        except InvalidArgument:
            pass
    except ImportError:
        pass


def gradient_reports(grad_fn: Callable, net: Network, x, y) -> dict[str, CheckReport]:
    """Each parameter's report: ``grad_fn(net, x, y)[name]`` against the full tensor chain."""
    reference = backprop(net, x, y, "full")
    claimed = grad_fn(net, x, y)
    if not isinstance(claimed, Mapping):
        raise AssertionError(f"the gradient function must return a mapping from parameter name "
                             f"('W1', 'b1', ...) to gradient; it returned "
                             f"{type(claimed).__name__}.")
    missing = [k for k in net.params if k not in claimed]
    if missing:
        raise AssertionError(f"the gradient function returned no gradient for {missing} "
                             f"(it returned {sorted(claimed)}).")
    rtol, atol = GRADIENT_TOLERANCES.get(net.dtype, GRADIENT_TOLERANCES[np.dtype(np.float64)])
    reports = {}
    for name, ref in reference.items():
        value = claimed[name]
        arr = value.dense() if isinstance(value, Derivative) else np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise AssertionError(f"gradient of {name} must be real numbers; got dtype "
                                 f"{arr.dtype}.")
        if not np.all(np.isfinite(arr)):
            raise AssertionError(f"gradient of {name} has non-finite entries: "
                                 f"{int(np.sum(~np.isfinite(arr)))} of {arr.size}.")
        arr = arr.astype(np.float64)
        if arr.shape != ref.shape:
            raise AssertionError(f"gradient of {name} has shape {arr.shape}; it must have the "
                                 f"parameter's shape {ref.shape}.")
        mine = Derivative.from_array(arr, (), ref.shape, of="C", wrt=ref.wrt)
        reports[name] = compare_derivatives(mine, ref, dtype=net.dtype, rtol=rtol, atol=atol,
                                            claimed_name="yours", reference_name="full")
    return reports


def gradients_match(grad_fn: Callable, net: Network, x, y) -> bool:
    """True when every gradient of ``grad_fn`` matches ``backprop(method="full")``."""
    return all(gradient_reports(grad_fn, net, x, y).values())


def assert_gradients_match(grad_fn: Callable, net: Network, x, y) -> None:
    """Fail with the worst entry of the first wrong gradient, and note the network.

    ``grad_fn(net, x, y)`` returns a mapping from parameter name (``"W1"``, ``"b1"``, ...) to
    its gradient (an array of the parameter's shape, or a Derivative).
    """
    for name, report in gradient_reports(grad_fn, net, x, y).items():
        if not report.ok:
            _note(f"failing network: {net!r}\nx = {np.asarray(x)!r}\ny = {np.asarray(y)!r}")
            raise AssertionError(f"gradient of {name} is wrong\n{report}")


def assert_jacobian_matches(jacobian: object, f: Callable, x, *, layout: str = "canonical",
                            eps: float | None = None, rtol=None, atol=None) -> None:
    """A hand-written Jacobian (array in ``layout``, Derivative, or a function of ``x``) against
    central differences of ``f`` at ``x``; fails with the worst entry."""
    x_arr = np.asarray(x, dtype=float) if np.asarray(x).dtype.kind in "biu" else np.asarray(x)
    numeric = numerical_derivative(f, x_arr, eps)
    value = jacobian(x_arr) if callable(jacobian) else jacobian
    if not isinstance(value, Derivative):
        value = Derivative.from_layout(value, layout, numeric.out_shape, numeric.in_shape)
    report = compare_derivatives(value, numeric, dtype=x_arr.dtype, rtol=rtol, atol=atol)
    if not report.ok:
        _note(f"x = {x_arr!r}")
        raise AssertionError(f"Jacobian is wrong\n{report}")
