"""A snippet that rebuilds a :func:`~tensorcalc.testing.check_layer` case: the inputs (and a
given ``dout``) as literals, or, for large inputs, how to save them and the call to make."""

from __future__ import annotations

from .reference import spelled, to_numpy


def _literal(value) -> str:
    a = to_numpy(value)
    return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"


def snippet(forward, backward, given, args, reference, dout, seed) -> str:
    """The code that reruns this check: inputs of up to 600 entries written out, larger ones
    left for the reader to save."""
    size = sum(to_numpy(v).size for v in given.values())
    call = ", ".join([getattr(forward, "__name__", "forward"),
                      getattr(backward, "__name__", "backward"), "inputs",
                      *map(repr, args)])
    options = ([f"reference={spelled(reference)}"] if reference is not None else []) + (
        ["dout=dout"] if dout is not None else [] if seed == 0 else [f"seed={seed}"])
    if size + (0 if dout is None else to_numpy(dout).size) > 600:
        return (f"# inputs of {size} entries: save them (np.savez) and call\n"
                f"tc.check_layer({call}{''.join(', ' + o for o in options)})")
    lines = ["import numpy as np", "import tensorcalc as tc",
             "inputs = {" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in given.items()) + "}"]
    if dout is not None:
        lines.append(f"dout = {_literal(dout)}")
    lines.append(f"print(tc.check_layer({call}{''.join(', ' + o for o in options)}))")
    return "\n".join(lines)
