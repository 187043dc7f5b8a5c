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
from .intermediates import assert_intermediates_match, intermediates_check
from .layercheck import assert_layer_matches, assert_vjp_matches, check_layer, check_vjp
from .report import GradientCheck, ParamCheck

__all__ = ["GRADIENT_TOLERANCES", "Convention", "GradientCheck", "ParamCheck",
           "assert_gradients_match", "assert_intermediates_match", "assert_jacobian_matches",
           "assert_layer_matches", "intermediates_check",
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


def assert_jacobian_matches(jacobian: object = None, f: Callable | None = None, x=None, *,
                            layout: str = "canonical", eps: float | None = None, rtol=None,
                            atol=None, of: str = "y", wrt: str = "x",
                            vjp: Callable | None = None) -> CheckReport:
    """A hand-written Jacobian (array in ``layout``, Derivative, or a function of ``x``) against
    central differences of ``f`` at ``x``; fails with the worst entry, naming ``d<of>/d<wrt>``.
    Passing, it returns the comparison (print it to see the worst entry and its error). Arrays
    may be numpy arrays, lists or torch tensors; a float32 ``x`` or Jacobian gets float32
    tolerances. ``vjp=`` takes a student's backward ``vjp(dout) -> dx`` instead of a Jacobian
    (leave ``jacobian`` out): it is called once per output entry with a unit ``dout``, and the
    rows it returns make the Jacobian.

    >>> import numpy as np, tensorcalc as tc
    >>> from tensorcalc.testing import assert_jacobian_matches
    >>> x = np.array([0.3, -1.2, 2.0])
    >>> assert_jacobian_matches(f=np.tanh, x=x, vjp=lambda dout: dout * (1 - np.tanh(x) ** 2)).ok
    True
    """
    __tracebackhide__ = True
    if f is None or x is None or (jacobian is None) == (vjp is None):
        raise TypeError("assert_jacobian_matches needs f=, x= and either a jacobian or vjp=.")
    x_arr = plain_array(x)
    x_arr = x_arr.astype(float) if x_arr.dtype.kind in "biu" else x_arr
    numeric = numerical_derivative(f, x_arr, eps, of=of, wrt=wrt)
    if vjp is not None:
        jacobian, layout = _rows(vjp, x, numeric.out_shape, numeric.in_shape), "canonical"
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


def _rows(vjp: Callable, x, out_shape: tuple, in_shape: tuple) -> np.ndarray:
    """The Jacobian from a vector-Jacobian product: row k is ``vjp(e_k)``."""
    __tracebackhide__ = True
    rows = []
    for k in range(int(np.prod(out_shape))):
        unit = np.zeros(int(np.prod(out_shape)))
        unit[k] = 1.0
        dout = unit.reshape(out_shape)
        dx = plain_array(vjp(x.new_tensor(dout) if hasattr(x, "new_tensor") else dout))
        if dx.shape != tuple(in_shape):
            raise AssertionError(f"vjp(dout) returned shape {dx.shape}; dx must have the "
                                 f"input's shape {tuple(in_shape)}.")
        rows.append(dx.astype(np.float64).reshape(-1))
    return np.array(rows).reshape(tuple(out_shape) + tuple(in_shape))
