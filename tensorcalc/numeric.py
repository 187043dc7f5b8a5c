"""Central differences as a :class:`Derivative`, and a checker with a readable report.

The default step is ``cbrt(machine epsilon) * max(1, |x_j|)`` per entry, which balances the
O(h^2) truncation error of central differences against rounding. Tolerances follow the dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .core.derivative import Derivative
from .core.validate import _trusted, as_float_array
from .errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from .views import check_html

#: (rtol, atol) used when comparing with finite differences, by dtype. atol is scaled by the
#: largest numeric entry (at least 1).
TOLERANCES = {np.dtype(np.float64): (1e-5, 1e-7), np.dtype(np.float32): (2e-2, 2e-3)}


def default_step(dtype) -> float:
    """The base central-difference step for ``dtype``: cbrt(eps), ~6e-6 for float64."""
    return float(np.finfo(dtype).eps) ** (1.0 / 3.0)


def numerical_derivative(
    f: Callable[[np.ndarray], object], x: object, eps: float | None = None, *,
    of: str = "f", wrt: str = "x",
) -> Derivative:
    """d f(x) / dx by central differences, for any ranks of input and output.

    >>> import numpy as np, tensorcalc as tc
    >>> D = tc.numerical_derivative(lambda v: v ** 2, np.array([1.0, 2.0]))
    >>> D.kind, np.round(D.dense(), 6).tolist()
    ('jacobian', [[2.0, 0.0], [0.0, 4.0]])
    """
    x = np.array(as_float_array(x, "x"))
    y0 = np.asarray(f(x.copy()))
    if y0.dtype.kind not in "biuf":
        raise TensorcalcError(f"f must return a real number or an array of real numbers; at x "
                              f"it returned {type(f(x.copy())).__name__} of dtype {y0.dtype}.")
    out_shape = y0.shape
    base = default_step(x.dtype) if eps is None else float(eps)
    flat = x.reshape(-1)
    cols = np.empty((flat.size,) + out_shape, dtype=np.result_type(x.dtype, y0.dtype))
    for k in range(flat.size):
        h = base * max(1.0, abs(float(flat[k])))
        xp, xm = flat.copy(), flat.copy()
        xp[k] += h
        xm[k] -= h
        actual = float(xp[k]) - float(xm[k])
        fp = np.asarray(f(xp.reshape(x.shape)))
        fm = np.asarray(f(xm.reshape(x.shape)))
        cols[k] = (fp - fm) / actual
    arr = np.moveaxis(cols.reshape(x.shape + out_shape), list(range(x.ndim)),
                      list(range(len(out_shape), len(out_shape) + x.ndim)))
    if not _trusted.get() and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(cols.reshape(flat.size, -1)))[0]
        raise InvalidInputError(
            f"f is not finite around x: its central difference for input entry "
            f"{tuple(int(i) for i in np.unravel_index(int(bad[0]), x.shape))} is not finite. "
            f"Check that f returns "
            f"finite values for inputs within {base:.1g} (relative) of x."
        )
    return Derivative.from_array(arr, out_shape, x.shape, of=of, wrt=wrt)


@dataclass(frozen=True)
class CheckReport:
    """Result of comparing an analytic derivative with central differences."""

    ok: bool
    of: str
    wrt: str
    kind: str
    shape: tuple[int, ...]
    worst_index: tuple[int, ...]
    out_index: tuple[int, ...]
    in_index: tuple[int, ...]
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    rtol: float
    atol: float
    step: float
    dtype: str
    reference: str = "numeric"
    claimed: str = "analytic"

    def __bool__(self) -> bool:
        return self.ok

    def _repr_html_(self) -> str:
        return check_html(self)

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        return (
            f"{verdict}: d{self.of}/d{self.wrt} ({self.kind}, shape {self.shape}, {self.dtype})\n"
            f"  worst entry: output {self.out_index}, input {self.in_index}\n"
            f"  {self.claimed} {self.analytic:.10g}  {self.reference} {self.numeric:.10g}  "
            f"abs error {self.abs_error:.3g}  rel error {self.rel_error:.3g}\n"
            f"  tolerance: |diff| <= {self.rtol:.1g} * |{self.reference}| + {self.atol:.1g} * "
            f"(largest entry) + rounding noise" + (f"; step {self.step:.3g}" if self.step else "")
        )


def noise_floor(f_magnitude: float, dtype, step: float) -> float:
    """Rounding noise of a central difference: about eps * |f(x)| / h (times a safety factor)."""
    return 16.0 * float(np.finfo(dtype).eps) * float(f_magnitude) / step


def compare_arrays(analytic: np.ndarray, numeric: np.ndarray, dtype, rtol=None, atol=None,
                   floor: float = 0.0):
    """Every entry must satisfy ``|a - n| <= rtol |n| + atol * scale + floor``, where ``scale``
    is the largest entry of either array (so tiny derivatives are judged on their own size)
    and ``floor`` the rounding noise of the reference. Returns (ok, worst index, rtol, atol)."""
    default_rtol, default_atol = TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    diff = np.abs(analytic - numeric)
    scale = max(float(np.max(np.abs(numeric), initial=0.0)),
                float(np.max(np.abs(analytic), initial=0.0)))
    excess = diff - rtol * np.abs(numeric)
    ok = bool(np.all(excess <= atol * scale + floor))
    # failing: the entry furthest over its tolerance; passing: the largest error there is
    worst = (np.unravel_index(int(np.argmax(diff if ok else excess)), excess.shape)
             if excess.size else ())
    return ok, tuple(int(i) for i in worst), rtol, atol


def check_derivative(
    derivative: Derivative, f: Callable[[np.ndarray], object], x: object, *,
    eps: float | None = None, rtol: float | None = None, atol: float | None = None,
) -> CheckReport:
    """Compare ``derivative`` (claimed d f/dx at ``x``) with central differences.

    >>> import numpy as np, tensorcalc as tc
    >>> z = np.array([0.5, -1.0])
    >>> bool(tc.check_derivative(tc.sigmoid.derivative(z), tc.sigmoid, z))
    True
    """
    if not isinstance(derivative, Derivative):
        raise TensorcalcError(
            f"check_derivative takes a Derivative, got {type(derivative).__name__}; wrap an "
            f"array with tc.Derivative.from_array(arr, out_shape=..., in_shape=...)."
        )
    x = as_float_array(x, "x")
    numeric = numerical_derivative(f, x, eps, of=derivative.of, wrt=derivative.wrt)
    if numeric.shape != derivative.shape:
        raise ShapeMismatchError(
            f"the analytic {derivative.kind} {derivative.name} has shape "
            f"{derivative.shape}, but f at x gives a derivative of shape {numeric.shape} "
            f"(output {numeric.out_shape}, input {numeric.in_shape})."
        )
    step = default_step(x.dtype) if eps is None else float(eps)
    f_size = float(np.max(np.abs(np.asarray(f(x.copy()), dtype=float)), initial=0.0))
    floor = noise_floor(f_size, x.dtype, step * max(1.0, float(np.max(np.abs(x), initial=0.0))))
    return compare_derivatives(derivative, numeric, dtype=x.dtype, rtol=rtol, atol=atol,
                               step=step, floor=floor)


def compare_derivatives(
    claimed: Derivative, reference: Derivative, *, dtype=None, rtol=None, atol=None,
    step: float = 0.0, claimed_name: str = "analytic", reference_name: str = "numeric",
    floor: float = 0.0,
) -> CheckReport:
    """Compare two derivatives of the same shape entry by entry; report the worst entry."""
    dtype = np.dtype(dtype or claimed.dtype)
    a, n = claimed.dense(), reference.dense()
    ok, worst, rtol, atol = compare_arrays(a, n, dtype, rtol, atol, floor)
    k = len(claimed.out_shape)
    av, nv = (float(a[worst]), float(n[worst])) if a.size else (0.0, 0.0)
    return CheckReport(
        ok=ok, of=claimed.of, wrt=claimed.wrt, kind=claimed.kind, shape=claimed.shape,
        worst_index=worst, out_index=worst[:k], in_index=worst[k:], analytic=av, numeric=nv,
        abs_error=abs(av - nv), rel_error=abs(av - nv) / max(abs(nv), 1e-300),
        rtol=rtol, atol=atol, step=step, dtype=str(dtype), reference=reference_name,
        claimed=claimed_name,
    )
