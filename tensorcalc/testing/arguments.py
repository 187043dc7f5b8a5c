"""Arguments of the coursework checks, validated before anything runs: each wrong type or
shape is a :class:`~tensorcalc.TensorcalcError` that says what was expected and how to pass
it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import ShapeMismatchError, TensorcalcError


def _described(value) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"{type(value).__name__} {value!r}"


def require_inputs(inputs, who: str) -> None:
    """``inputs`` of :func:`check_layer` or :func:`check_vjp` must be a mapping of names to
    arrays."""
    if not isinstance(inputs, Mapping):
        raise TensorcalcError(
            f"{who}'s inputs must be a dict of name -> array: the layer's input first, then "
            f"its parameters in the layer's order (e.g. {{'x': x, 'w': w, 'b': b}}); got "
            f"{_described(inputs)}. Name each array: {{'x': x}} for a layer with one input.")


def require_dout(dout: np.ndarray, out_shape: tuple, whose: str = "your forward's output"
                 ) -> None:
    """A ``dout`` given by the caller must have exactly the forward output's shape; it is
    never reshaped."""
    if dout.shape != tuple(out_shape):
        hint = (" It is the output's shape transposed: pass dout.T?"
                if dout.ndim == 2 and dout.shape == tuple(out_shape)[::-1] else
                " It has as many entries, but dout is never reshaped."
                if dout.size == int(np.prod(out_shape)) else "")
        raise ShapeMismatchError(f"dout has shape {dout.shape}; {whose} has shape "
                                 f"{tuple(out_shape)}, and dout must have exactly that "
                                 f"shape.{hint}")


def output_shape_problem(yours: tuple, theirs: tuple, spelled: str, args: tuple) -> str:
    """The problem line for a forward output whose shape is not the reference's."""
    given = f" (options {', '.join(map(repr, args))})" if args else ""
    return (f"your forward output has shape {yours}; the reference {spelled} gives shape "
            f"{theirs}. The layer's hyper-parameters differ between your call{given} and the "
            f"reference: check stride, padding, kernel size and dilation (or the number of "
            f"outputs) on both sides.")


def require_at(at, n: int) -> None:
    """``at`` of :func:`intermediates_check`: tensorcalc's 1-based layer index (an int) to the
    student's key (a str)."""
    example = "{6: 'dlogits', 5: 'dh'}"
    if not isinstance(at, Mapping):
        raise TensorcalcError(f"at must be a dict from layer index (1..{n}, as net.layers lists "
                              f"them) to the key of your intermediate, e.g. {example}; got "
                              f"{_described(at)}.")
    ints = [isinstance(k, int) and not isinstance(k, bool) for k in at]
    strs = [isinstance(v, str) for v in at.values()]
    if all(ints) and all(strs):
        return
    swapped = all(isinstance(k, str) for k in at) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in at.values())
    fix = ("; the keys and values are swapped: pass {" +
           ", ".join(f"{v!r}: {k!r}" for k, v in at.items()) + "}" if swapped else "")
    raise TensorcalcError(f"at must map each layer index (an int in 1..{n}, as net.layers "
                          f"lists them) to the key (a str) of your dC/d(that layer's output), "
                          f"e.g. {example}; got {dict(at)!r}{fix}.")
