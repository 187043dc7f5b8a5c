"""A student's gradients as arrays to compare: torch tensors detached (by duck typing), lists
and float32 arrays accepted, each read in the student's convention and held shape, and a
wrong shape refused with both shapes in the student's names."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.derivative import Derivative
from ..core.validate import plain
from ..network.conventions import Convention
from ..network.student import Student


def as_gradient(name: str, value) -> np.ndarray:
    """One gradient as a real, finite array in its own float dtype (float32 stays float32,
    so the check knows to use float32 tolerances); a Derivative gives its dense tensor."""
    __tracebackhide__ = True
    value = plain(value)
    arr = value.dense() if isinstance(value, Derivative) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise AssertionError(f"gradient of {name} must be real numbers; got dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"gradient of {name} has non-finite entries: "
                             f"{int(np.sum(~np.isfinite(arr)))} of {arr.size}.")
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)


def _input_from_student(value: np.ndarray, convention: Convention, shape) -> np.ndarray:
    """dC/dx given in the student's sample convention (columns: transposed)."""
    if convention.samples == "columns" and value.ndim == 2 and len(shape) <= 2:
        return value.T if len(shape) == 2 else value[:, 0]
    return value


def _shape_error(label: str, got: tuple, ref: tuple) -> str:
    hint = (" It is the parameter's shape transposed: weights stored (in, out)? Pass "
            "weights='in_out'." if got == ref[::-1] and len(got) == 2
            else " Biases as (n, 1) columns? Pass bias='column'." if got == ref + (1,) else "")
    what = "dC/dx must have x's shape" if label == "x" else "it must have the parameter's shape"
    return f"gradient of {label} has shape {got}; {what} {ref}.{hint}"


def read_gradients(claimed, expected: Mapping[str, np.ndarray], convention: Convention,
                   student: Student | None = None) -> tuple[dict, dict, bool]:
    """The student's gradients and the expected ones, both keyed by the student's names and in
    the shape the student holds each parameter in; and whether any of theirs is float32.

    ``expected`` is keyed by tensorcalc's names (``"x"`` for dC/dx), in each layer's shape. A
    gradient is looked up under ``convention.name`` (the check's ``names=``), else under
    tensorcalc's name. A parameter the student holds in another singleton layout ((1, n) for
    (n,)) must come back in exactly that shape."""
    __tracebackhide__ = True
    student = student or Student()
    if not isinstance(claimed, Mapping):
        raise AssertionError(f"the gradient function must return a mapping from parameter name "
                             f"to gradient; it returned {type(claimed).__name__}.")
    keys = {ours: convention.name(ours) if convention.name(ours) in claimed else ours
            for ours in expected}
    missing = [convention.name(k) for k, key in keys.items() if key not in claimed]
    if missing:
        raise AssertionError(f"the gradient function returned no gradient for {missing} "
                             f"(it returned {sorted(map(str, claimed))}).")
    yours, wanted, float32 = {}, {}, False
    for ours, ref in expected.items():
        label = student.name(ours)
        raw = as_gradient(label, claimed[keys[ours]])
        float32 = float32 or raw.dtype == np.float32
        held = student.shapes.get(ours)
        if held is not None:
            if raw.shape != tuple(held):
                raise AssertionError(f"gradient of {label} has shape {raw.shape}; your parameter "
                                     f"{label} has shape {tuple(held)}.")
            arr, ref = raw, ref.reshape(held)
        elif ours == "x":
            arr = _input_from_student(raw, convention, ref.shape)
        else:
            arr = convention.from_student(ours, raw)
        if arr.shape != ref.shape:
            raise AssertionError(_shape_error(label, arr.shape, ref.shape))
        yours[label], wanted[label] = arr.astype(np.float64), np.asarray(ref, dtype=np.float64)
    return yours, wanted, float32
