"""How errors name a derivative, and the checks that chaining makes (no import of the class:
they read a derivative's attributes)."""

from __future__ import annotations

from ..errors import ShapeMismatchError, TensorcalcError


def describe(d) -> str:
    """``dz/da (jacobian, out (4,), in (3,))``: how errors name a derivative."""
    return f"{d.name} ({d.kind}, out {d.out_shape}, in {d.in_shape})"


def require_derivative(d: object, name: str) -> None:
    if not hasattr(d, "terms") or not hasattr(d, "in_shape"):
        raise TensorcalcError(
            f"chain() takes Derivative objects; the {name} argument is a {type(d).__name__}. "
            f"Wrap arrays with tc.Derivative.from_array(arr, out_shape=..., in_shape=...)."
        )


def check_fit(outer, inner) -> None:
    require_derivative(outer, "outer")
    require_derivative(inner, "inner")
    if outer.in_shape == inner.out_shape:
        return
    hint = ""
    if inner.in_shape == outer.out_shape:
        hint = " The reverse order fits: chain() takes the outermost derivative first."
    raise ShapeMismatchError(
        f"cannot chain {describe(outer)} with {describe(inner)}: the outer derivative's input "
        f"shape {outer.in_shape} must equal the inner derivative's output shape "
        f"{inner.out_shape}. An inner derivative of something of shape {outer.in_shape} "
        f"would fit.{hint}"
    )
