"""A short Python snippet that rebuilds a failing case exactly: the network's parameters, x and
y as literals (floats printed so that they read back to the same bits)."""

from __future__ import annotations

import numpy as np


def _literal(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item())
    dtype = "" if arr.dtype == np.float64 else f", dtype=np.{arr.dtype}"
    return f"np.array({arr.tolist()!r}{dtype})"


#: Above this many parameter entries the snippet loads them from an .npz file instead of
#: printing them (it says how to write that file).
LITERAL_LIMIT = 2000


def reproducer(net, x, y) -> str:
    """Code that rebuilds ``net``, ``x`` and ``y``; run it and the case is back (a large
    network's parameters come from an .npz file that a first line says how to save)."""
    student = net.student  # the student's names and shapes, so their gradients fit again
    held = {student.name(k): v.reshape(student.shape(k, v.shape)) for k, v in net.params.items()}
    big = sum(v.size for v in held.values()) > LITERAL_LIMIT
    params = "{" + ", ".join(f"{k!r}: {f'case[{k!r}]' if big else _literal(v)}"
                             for k, v in held.items()) + "}"
    head = ([f"# {sum(v.size for v in held.values()):,} parameter entries: save yours first, "
             f"np.savez('case.npz', **{{{', '.join(f'{k!r}: ...' for k in held)}}})",
             "case = np.load('case.npz')"] if big else [])
    renamed = {k: v for k, v in student.names.items() if k in net.params and k != v}
    extra = f", names={renamed!r}" if renamed else ""
    if net.numbering != "by_layer":
        extra += f", numbering={net.numbering!r}"
    if repr(net).startswith("Network(sizes="):
        names = [net.activation(l).name for l in range(1, net.depth)]
        hidden = names[0] if len(set(names)) == 1 else (names or "sigmoid")
        build = (f"net = tc.Network.from_params({params}, hidden={hidden!r}, "
                 f"output={net.output.name!r}, loss={net.loss_fn.name!r}{extra})")
    else:
        spec = ", ".join(layer.spec() for layer in net.layers)
        loss = net.loss_fn
        loss_text = (repr(loss.name) if repr(loss).startswith("'") else
                     f"tc.Loss({loss.name!r}, scale={loss.scale!r}, "
                     f"reduction={loss.reduction!r})")
        build = (f"net = tc.Network.stack({spec!r}, loss={loss_text}, "
                 f"input_shape={net.input_shape!r}, weight_decay={net.weight_decay!r}, "
                 f"params={params}{extra})")
    return "\n".join(["import numpy as np", "import tensorcalc as tc", *head, build,
                      f"x = {_literal(x)}", f"y = {_literal(y)}"])
