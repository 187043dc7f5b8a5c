"""Assertions for coursework: check the code students actually write against the library's
references, with failure reports a student can act on.

>>> import numpy as np, tensorcalc as tc
>>> from tensorcalc.testing import assert_jacobian_matches
>>> z = np.array([0.3, -1.2])
>>> print(assert_jacobian_matches(np.diag(tc.sigmoid(z) * (1 - tc.sigmoid(z))), tc.sigmoid, z))
OK: dy/dx (jacobian, shape (2, 2), float64)
  worst entry: output ..., input ...
  analytic ...  numeric ...  abs error ...  rel error ...
  tolerance: |diff| <= 1e-05 * |numeric| + 1e-07 * (largest entry) + rounding noise
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.derivative import Derivative
from ..core.validate import plain, plain_array
from ..network.conventions import Convention
from ..numeric import CheckReport, compare_derivatives, numerical_derivative
from .gradients import (
    GRADIENT_TOLERANCES,
    assert_gradients_match,
    check_gradients,
    gradient_check,
    gradients_match,
)
from .layercheck import assert_layer_matches, assert_vjp_matches, check_layer, check_vjp
from .report import GradientCheck, ParamCheck

__all__ = ["GRADIENT_TOLERANCES", "Convention", "GradientCheck", "ParamCheck",
           "assert_gradients_match", "assert_jacobian_matches", "assert_layer_matches",
           "assert_vjp_matches", "check_gradients", "check_layer", "check_vjp",
           "gradient_check", "gradients_match"]


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


def assert_jacobian_matches(jacobian: object, f: Callable, x, *, layout: str = "canonical",
                            eps: float | None = None, rtol=None, atol=None, of: str = "y",
                            wrt: str = "x") -> CheckReport:
    """A hand-written Jacobian (array in ``layout``, Derivative, or a function of ``x``) against
    central differences of ``f`` at ``x``; fails with the worst entry, naming ``d<of>/d<wrt>``.
    Passing, it returns the comparison (print it to see the worst entry and its error). Arrays
    may be numpy arrays, lists or torch tensors; a float32 ``x`` or Jacobian gets float32
    tolerances."""
    __tracebackhide__ = True
    x_arr = plain_array(x)
    x_arr = x_arr.astype(float) if x_arr.dtype.kind in "biu" else x_arr
    numeric = numerical_derivative(f, x_arr, eps, of=of, wrt=wrt)
    value = plain(jacobian(x_arr) if callable(jacobian) else jacobian)
    if not isinstance(value, Derivative):
        value = np.asarray(value)
        dtype = np.float32 if np.float32 in (value.dtype, x_arr.dtype) else x_arr.dtype
        value = Derivative.from_layout(value, layout, numeric.out_shape, numeric.in_shape,
                                       of=of, wrt=wrt)
    else:
        dtype = np.float32 if np.float32 in (value.dtype, x_arr.dtype) else x_arr.dtype
    report = compare_derivatives(value, numeric, dtype=dtype, rtol=rtol, atol=atol)
    if not report.ok:
        _note(f"x = {x_arr!r}")
        raise AssertionError(f"the Jacobian d{of}/d{wrt} is wrong\n{report}")
    return report
