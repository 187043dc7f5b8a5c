"""Assertions for coursework: check the code students actually write against the library's
references, with failure reports a student can act on.

>>> import numpy as np, tensorcalc as tc
>>> from tensorcalc.testing import assert_jacobian_matches
>>> z = np.array([0.3, -1.2])
>>> assert_jacobian_matches(np.diag(tc.sigmoid(z) * (1 - tc.sigmoid(z))), tc.sigmoid, z)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.derivative import Derivative
from ..network.conventions import Convention
from ..numeric import compare_derivatives, numerical_derivative
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
                            wrt: str = "x") -> None:
    """A hand-written Jacobian (array in ``layout``, Derivative, or a function of ``x``) against
    central differences of ``f`` at ``x``; fails with the worst entry, naming ``d<of>/d<wrt>``."""
    __tracebackhide__ = True
    x_arr = np.asarray(x, dtype=float) if np.asarray(x).dtype.kind in "biu" else np.asarray(x)
    numeric = numerical_derivative(f, x_arr, eps, of=of, wrt=wrt)
    value = jacobian(x_arr) if callable(jacobian) else jacobian
    if not isinstance(value, Derivative):
        value = Derivative.from_layout(value, layout, numeric.out_shape, numeric.in_shape,
                                       of=of, wrt=wrt)
    report = compare_derivatives(value, numeric, dtype=x_arr.dtype, rtol=rtol, atol=atol)
    if not report.ok:
        _note(f"x = {x_arr!r}")
        raise AssertionError(f"the Jacobian d{of}/d{wrt} is wrong\n{report}")
