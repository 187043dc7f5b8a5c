"""Input checks shared by every public entry point: dtype policy and finiteness."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from ..errors import InvalidInputError

#: Floating dtypes kept as they are; everything else real is cast to float64.
KEPT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


_trusted: ContextVar[bool] = ContextVar("tensorcalc_trusted", default=False)


@contextmanager
def trusted() -> Iterator[None]:
    """Inside this block, float arrays are taken as already checked (used by internal code
    after validating its inputs once at the public boundary)."""
    token = _trusted.set(True)
    try:
        yield
    finally:
        _trusted.reset(token)


_complex: ContextVar[bool] = ContextVar("tensorcalc_complex_step", default=False)


@contextmanager
def complex_step() -> Iterator[None]:
    """Inside this block complex arrays pass the checks: second order differentiates a
    layer's own (analytic) forward and backward by a complex step."""
    token = _complex.set(True)
    try:
        yield
    finally:
        _complex.reset(token)


def as_float_array(value: object, name: str, *, finite: bool = True) -> np.ndarray:
    """Return ``value`` as a float32/float64 array, refusing what cannot be differentiated.

    Integers and booleans become float64; float16 becomes float64; complex and object arrays
    are refused. The input is never modified: a cast makes a copy, and callers must not write
    into the result.
    """
    if type(value) is np.ndarray and value.dtype in KEPT_DTYPES and _trusted.get():
        return value
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"{name} is not a rectangular array of numbers ({err}); pass a "
                                f"numpy array or nested lists of equal lengths.") from None
    if arr.dtype.kind == "c" and _complex.get():
        return arr
    if arr.dtype.kind == "c":
        raise InvalidInputError(
            f"{name} is complex ({arr.dtype}); tensorcalc differentiates real functions only. "
            f"Pass the real part (np.real({name})) or split real and imaginary parts."
        )
    if arr.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"{name} has dtype {arr.dtype}, which is not numeric; pass a float array "
            f"(for example np.asarray({name}, dtype=float))."
        )
    if arr.dtype not in KEPT_DTYPES:
        arr = arr.astype(np.float64)
    if finite and not np.isfinite(np.sum(arr)) and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        where = tuple(int(i) for i in bad[0])
        raise InvalidInputError(
            f"{name} has {len(bad)} non-finite entr{'y' if len(bad) == 1 else 'ies'} "
            f"(first at index {where}: {arr[where]}); derivatives need finite inputs. "
            f"Replace NaN/inf values before calling."
        )
    return arr


def readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only view of ``arr`` (the caller's array keeps its own flags)."""
    view = arr.view()
    view.flags.writeable = False
    return view


def plain(value: object) -> object:
    """``value`` with a tensor of another library made a numpy array, by duck typing (torch
    is never imported): anything with ``.detach()``, ``.cpu()`` and ``.numpy()`` is detached
    from its graph and copied to the host. Lists, scalars and arrays pass through.

    >>> class Tensor:  # stands for a torch tensor that requires grad
    ...     def detach(self): return self
    ...     def cpu(self): return self
    ...     def numpy(self): return np.ones(2, dtype=np.float32)
    >>> plain(Tensor()).dtype, plain([1.0, 2.0])
    (dtype('float32'), [1.0, 2.0])
    """
    if all(callable(getattr(value, m, None)) for m in ("detach", "cpu", "numpy")):
        return value.detach().cpu().numpy()
    return value


def plain_array(value: object) -> np.ndarray:
    """:func:`plain`, then ``np.asarray``: a student's tensor, array or nested list."""
    return np.asarray(plain(value))
