"""Backpropagation four ways: full tensor chain, dense tensors, Hadamard shortcut, numeric.

``full`` and ``dense`` run the same reverse accumulation over typed derivatives:

    delta^L = dC/da^L . da^L/dz^L
    delta^l = delta^{l+1} . dz^{l+1}/da^l . da^l/dz^l
    dC/dW^l = delta^l . dz^l/dW^l,   dC/db^l = delta^l . dz^l/db^l

``full`` keeps Kronecker deltas as labels (so it costs what the shortcut costs); ``dense``
materialises every local derivative first, 3-tensors included. ``shortcut`` is the familiar
matrix recursion in plain numpy; its elementwise factors come from the same registry entries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from ._validate import trusted
from .chain import chain
from .contract import path_info
from .derivative import Derivative
from .errors import UnknownNameError
from .losses import one_hot
from .network import Network
from .numeric import numerical_derivative
from .plan import Plan, compile_plan, run_plan, structure_key
from .primitives import Elementwise, linear

METHODS = ("full", "dense", "shortcut", "numeric")


@dataclass(frozen=True)
class Step:
    """One chain-rule step: ``result = chain(*parts)`` (not yet contracted, so its spec and
    index notation show the whole step) and the matrix-notation shortcut it reduces to."""

    target: str
    parts: tuple[Derivative, ...]
    result: Derivative
    shortcut: str


@dataclass
class Gradients(Mapping):
    """Parameter name -> gradient as a scalar-by-matrix / gradient :class:`Derivative`.

    ``trace`` lists the chain-rule steps of ``full`` and ``dense`` (empty for the others); for
    ``full`` it is rebuilt from the local derivatives the first time it is read.
    """

    method: str
    grads: dict[str, Derivative]
    loss: float
    seconds: float = 0.0
    largest_bytes: int = 0
    _trace: list[Step] | Callable[[], list[Step]] = field(default_factory=list, repr=False)

    @property
    def trace(self) -> list[Step]:
        if callable(self._trace):
            self._trace = self._trace()
        return self._trace

    def __getitem__(self, name: str) -> Derivative:
        return self.grads[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.grads)

    def __len__(self) -> int:
        return len(self.grads)

    def arrays(self) -> dict[str, np.ndarray]:
        """The gradients as plain (writable) arrays, each of its parameter's shape."""
        return {k: np.array(v.dense()) for k, v in self.grads.items()}


def _largest(d: Derivative) -> int:
    """Bytes of the largest tensor a contraction of ``d`` builds (operands, intermediates)."""
    shapes = tuple(f.array.shape for f in d.factors)
    if not shapes:
        return 0
    biggest = max(math.prod(s) for s in shapes)
    if len(shapes) > 2:
        biggest = max(biggest, int(path_info(d.spec, shapes).largest_intermediate))
    else:
        biggest = max(biggest, math.prod(d.sizes[c] for c in d.result_labels))
    return biggest * d.dtype.itemsize


def local_derivatives(net: Network, x, y=None, fw=None) -> tuple[dict, list]:
    """Every local derivative of the network at (x, y), structured, keyed by (role, layer):
    ``("loss", L)`` (only when ``y`` is given), ``("act", l)``, ``("W", l)``, ``("b", l)``,
    ``("a", l)`` (dz^l/da^{l-1}, for l > 1). Pass ``fw`` to reuse a forward pass."""
    fw = net.forward(x) if fw is None else fw
    L = net.depth
    local = {}
    if y is not None:
        loss_arg = net.loss_fn.args[0]
        local["loss", L] = net.loss_fn.derivative(fw.a[L], y, names={loss_arg: f"a^{L}"})
    for l in range(1, L + 1):
        W, b, a_prev = net.params[f"W{l}"], net.params.get(f"b{l}"), fw.a[l - 1]
        names = {"W": f"W^{l}", "a": f"a^{l - 1}", "b": f"b^{l}", "out": f"z^{l}"}
        local["act", l] = net.activation(l).derivative(fw.z[l], names={"z": f"z^{l}",
                                                                         "out": f"a^{l}"})
        local["W", l] = linear.derivative(W, a_prev, b, wrt="W", names=names)
        if b is not None:
            local["b", l] = linear.derivative(W, a_prev, b, wrt="b", names=names)
        if l > 1:
            local["a", l] = linear.derivative(W, a_prev, b, wrt="a", names=names)
    return local, fw


def _densify(d: Derivative) -> Derivative:
    return Derivative._wrap(d.dense(), d.out_shape, d.in_shape, d.of, d.wrt)


def _output_shortcut(net: Network) -> str:
    L, out, loss = net.depth, net.output, net.loss_fn.name
    if out.name == "softmax" and loss == "cross_entropy":
        return f"delta^{L} = p - y"
    if loss == "nll":
        return f"delta^{L} = softmax(z^{L}) - y"
    if out.name == "softmax":
        return f"delta^{L} = p (.) (g - <g, p>), g = dC/da^{L}"
    return f"delta^{L} = dC/da^{L} (.) {out.short}'(z^{L})"


def _accumulate(net: Network, local: dict, batch: bool) -> tuple[dict, list[Step], int]:
    """Reverse accumulation over (structured or dense) local derivatives."""
    L, trace, grads, largest = net.depth, [], {}, 0

    def step(target, parts, shortcut, symbol):
        nonlocal largest
        joined = chain(*parts)
        largest = max(largest, _largest(joined))
        result = joined.contracted(symbol)
        trace.append(Step(target, tuple(parts), joined, shortcut))
        return result

    mean = " summed over samples" if batch else ""
    delta = step(f"delta^{L}", [local["loss", L], local["act", L]], _output_shortcut(net),
                 f"delta^{L}")
    for l in range(L, 0, -1):
        grads[f"W{l}"] = step(f"dC/dW^{l}", [delta, local["W", l]],
                              f"dC/dW^{l} = delta^{l} a^{l - 1}T{mean}", f"dC/dW^{l}")
        if ("b", l) in local:
            grads[f"b{l}"] = step(f"dC/db^{l}", [delta, local["b", l]],
                                  f"dC/db^{l} = delta^{l}{mean}", f"dC/db^{l}")
        if l > 1:
            short = net.hidden.short
            delta = step(f"delta^{l - 1}", [delta, local["a", l], local["act", l - 1]],
                         f"delta^{l - 1} = (W^{l}T delta^{l}) (.) {short}'(z^{l - 1})",
                         f"delta^{l - 1}")
    for name, g in grads.items():
        grads[name] = Derivative(g.factors, g.out_labels, g.in_labels, g.sizes, "C",
                                 name[0] + "^" + name[1:], _checked=True)
    return grads, trace, largest


_PLANS: dict[tuple, Plan] = {}


def _full(net: Network, local: dict, batch: bool):
    """The full chain through a plan compiled once per structure (see :mod:`tensorcalc.plan`)."""
    key = structure_key(local)
    plan = _PLANS.get(key)
    if plan is None:
        grads, trace, largest = _accumulate(net, local, batch)
        if len(_PLANS) > 256:
            _PLANS.clear()
        _PLANS[key] = compile_plan(local, trace, grads, largest)
        return grads, trace, largest
    return (run_plan(plan, local), lambda: _accumulate(net, local, batch)[1],
            plan.largest_bytes)


def _output_delta(net: Network, fw, y) -> np.ndarray:
    """delta^L = dC/dz^L with the well-known closed forms for the softmax/logit losses."""
    aL, zL = fw.a[-1], fw.z[-1]
    scale = 1.0 / aL.shape[0] if aL.ndim == 2 else 1.0
    if net.loss_fn.name == "nll" or (net.output.name == "softmax"
                                     and net.loss_fn.name == "cross_entropy"):
        t = one_hot(y, aL)
        p = aL if net.output.name == "softmax" else np.exp(zL - zL.max(-1, keepdims=True))
        p = p / p.sum(-1, keepdims=True)
        return (p * t.sum(-1, keepdims=True) - t) * scale
    g = net.loss_fn.derivative(aL, y).compact
    if isinstance(net.output, Elementwise):
        return net.output.hadamard(g, zL)
    return aL * (g - np.sum(g * aL, axis=-1, keepdims=True))


def _shortcut(net: Network, fw, y) -> tuple[dict, int]:
    delta = _output_delta(net, fw, y)
    arrays, largest = {}, delta.nbytes
    for l in range(net.depth, 0, -1):
        a_prev = fw.a[l - 1]
        if delta.ndim == 2:
            arrays[f"W{l}"], arrays[f"b{l}"] = delta.T @ a_prev, delta.sum(axis=0)
        else:
            arrays[f"W{l}"], arrays[f"b{l}"] = np.outer(delta, a_prev), delta
        largest = max(largest, arrays[f"W{l}"].nbytes)
        if l > 1:
            delta = net.hidden.hadamard(delta @ net.params[f"W{l}"], fw.z[l - 1])
    return {k: v for k, v in arrays.items() if k in net.params}, largest


def _numeric(net: Network, fw, y) -> tuple[dict, int]:
    x, grads, params = fw.a[0], {}, dict(net.params)
    for name, value in net.params.items():

        def loss_at(v, name=name):
            params[name] = v
            return net.loss_fn(net._run(params, x).output, y)

        D = numerical_derivative(loss_at, value, of="C", wrt=name)
        grads[name] = D.dense().astype(net.dtype)
        params[name] = value
    return grads, max(v.nbytes for v in net.params.values())


def backprop(net: Network, x, y, method: str = "full") -> Gradients:
    """The gradient of the network's loss with respect to every parameter.

    ``method`` is ``"full"`` (typed chain rule, deltas as labels), ``"dense"`` (the same chain
    with every local derivative materialised), ``"shortcut"`` (Hadamard formulas in numpy) or
    ``"numeric"`` (central differences). Each gradient is a :class:`Derivative` whose canonical
    shape is its parameter's shape.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> x, y = np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0])
    >>> g = tc.backprop(net, x, y)
    >>> g["W1"].kind, g["W1"].shape
    ('scalar-by-matrix', (4, 3))
    >>> bool(np.allclose(g["W1"].dense(), tc.backprop(net, x, y, "shortcut")["W1"].dense()))
    True
    """
    if method not in METHODS:
        raise UnknownNameError(f"unknown method {method!r}; valid methods are "
                               f"{', '.join(map(repr, METHODS))}.")
    start = time.perf_counter()
    fw = net.forward(x)
    loss = float(net.loss_fn(fw.output, y))  # checks the target once, here
    trace: list[Step] | Callable[[], list[Step]] = []
    with trusted():
        if method == "full":
            local, _ = local_derivatives(net, x, y, fw)
            grads, trace, largest = _full(net, local, fw.a[0].ndim == 2)
        elif method == "dense":
            local, _ = local_derivatives(net, x, y, fw)
            for d in local.values():
                d.check_dense_size()
            local = {k: _densify(d) for k, d in local.items()}
            grads, trace, largest = _accumulate(net, local, fw.a[0].ndim == 2)
            largest = max([largest] + [d.nbytes_dense for d in local.values()])
        else:
            arrays, largest = (_shortcut if method == "shortcut" else _numeric)(net, fw, y)
            grads = {k: Derivative._wrap(v, (), v.shape, "C", k[0] + "^" + k[1:])
                     for k, v in arrays.items()}
    seconds = time.perf_counter() - start
    return Gradients(method, {k: grads[k] for k in net.params}, loss, seconds, largest, trace)
