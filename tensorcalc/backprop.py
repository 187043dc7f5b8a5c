"""Backpropagation four ways: full tensor chain, dense tensors, shortcut, numeric.

``full`` and ``dense`` run the same reverse accumulation over typed local derivatives (see
:mod:`tensorcalc.accumulate`); for the dense template it is

    delta^L = dC/da^L . da^L/dz^L
    delta^l = delta^{l+1} . dz^{l+1}/da^l . da^l/dz^l
    dC/dW^l = delta^l . dz^l/dW^l,   dC/db^l = delta^l . dz^l/db^l

``full`` keeps Kronecker deltas as labels and sums as terms (so it costs what the shortcut
costs); ``dense`` materialises every local derivative first, 3-tensors included. ``shortcut`` is
each layer's classic backward formula in plain numpy (:mod:`tensorcalc.shortcut`); ``numeric``
is central differences. All four come from the same layer entries.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from .accumulate import Accumulation, Step, decay_derivative, decay_factor
from .core.derivative import Derivative
from .core.plan import Plan, compile_plan, run_plan
from .core.validate import trusted
from .errors import UnknownNameError
from .intermediates import intermediates as layer_gradients
from .network import Network
from .numeric import numerical_derivative
from .shortcut import shortcut
from .views import gradients_html, gradients_text

METHODS = ("full", "dense", "shortcut", "numeric")

__all__ = ["METHODS", "Gradients", "Step", "backprop", "local_derivatives"]


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
    #: With ``intermediates=True``: layer index (1-based, as ``net.layers`` counts) ->
    #: dC/d(that layer's output), a gradient ``Derivative`` shaped like the output.
    intermediates: dict[int, Derivative] = field(default_factory=dict, repr=False)

    @property
    def trace(self) -> list[Step]:
        if callable(self._trace):
            self._trace = self._trace()
        return self._trace

    def __getitem__(self, name: str) -> Derivative:
        if name not in self.grads:
            raise UnknownNameError(f"no gradient {name!r}; these gradients are "
                                   f"{', '.join(self.grads)}.")
        return self.grads[name]

    def __contains__(self, name) -> bool:
        return name in self.grads

    def __repr__(self) -> str:
        return gradients_text(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        return gradients_html(self)

    def __iter__(self) -> Iterator[str]:
        return iter(self.grads)

    def __len__(self) -> int:
        return len(self.grads)

    def arrays(self) -> dict[str, np.ndarray]:
        """The gradients as plain (writable) arrays, each of its parameter's shape."""
        return {k: np.array(v.dense()) for k, v in self.grads.items()}


def _records(records) -> Iterator:
    for rec in records:
        yield rec
        yield from _records(rec.inner)


def _locals(net: Network, fw, y, structured: bool) -> dict:
    local = {}
    if y is not None:
        local["loss",] = (net.loss_fn.derivative(fw.output, y, names={
            net.loss_fn.args[0]: fw.records[-1].ctx.sym["out"]}) if structured
            else (net.loss_fn.gradient(fw.output, y),))
    records = {rec.node.path: rec for rec in _records(fw.records)}
    for path, wrt in net.local_keys:
        rec = records[path]
        layer = rec.node.layer
        local[path, wrt] = (layer.local if structured else layer.local_arrays)(rec.ctx, wrt)
    for rec in records.values() if net.weight_decay else ():
        for s in rec.node.layer.decay:
            weight, c = rec.ctx.p[s], net.weight_decay
            local["decay", rec.node.names[s]] = (
                decay_derivative(weight, c, rec.ctx.sym[s]) if structured
                else (decay_factor(weight, c),))
    return local


def local_derivatives(net: Network, fw, y=None) -> dict:
    """Every local derivative backprop uses at this forward pass, structured, keyed by
    ``("loss",)`` (only when ``y`` is given), ``(path, wrt)`` for each layer (``wrt`` is
    ``"x"`` or a parameter symbol) and ``("decay", name)`` for weight decay."""
    return _locals(net, fw, y, structured=True)


def local_arrays(net: Network, fw, y) -> dict:
    """The factor arrays of every local derivative (keyed as :func:`local_derivatives`),
    taken straight from the layers: what a compiled chain replays."""
    return _locals(net, fw, y, structured=False)


def _densify(d: Derivative) -> Derivative:
    return Derivative._wrap(d.dense(), d.out_shape, d.in_shape, d.of, d.wrt)


_PLANS: dict[tuple, Plan] = {}


def _full(net: Network, fw, y):
    """The full chain through a plan compiled once per network structure and input shape (see
    :mod:`tensorcalc.core.plan`)."""
    key = (net.signature, fw.x.shape, fw.x.dtype.char)
    plan = _PLANS.get(key)
    if plan is None:
        local = local_derivatives(net, fw, y)
        acc = Accumulation(net, fw, local).run()
        if len(_PLANS) > 256:
            _PLANS.clear()
        _PLANS[key] = compile_plan(local, [s.result for s in acc.trace], acc.grads,
                                   acc.largest)
        return acc.grads, acc.trace, acc.largest

    def trace() -> list[Step]:
        with trusted():
            return Accumulation(net, fw, local_derivatives(net, fw, y)).run().trace

    return run_plan(plan, local_arrays(net, fw, y)), trace, plan.largest_bytes


def _numeric(net: Network, fw, y) -> tuple[dict, int]:
    x, grads, params = fw.x, {}, dict(net.params)
    progress = Progress(sum(v.size for v in params.values()))
    for name, value in net.params.items():

        def loss_at(v, name=name):
            params[name] = v
            progress.tick()
            return net.loss_at(net._run(params, x), y, params)

        D = numerical_derivative(loss_at, value, of="C", wrt=name)
        grads[name] = D.dense().astype(net.dtype)
        params[name] = value
    progress.done()
    return grads, max(v.nbytes for v in net.params.values())


class Progress:
    """A progress line on stderr for central differences that run longer than 2 s."""

    def __init__(self, total: int) -> None:
        self.total, self.calls, self.start, self.shown = total, 0, time.perf_counter(), False

    def tick(self) -> None:
        self.calls += 1
        if self.calls % 50 == 0 and time.perf_counter() - self.start > 2:
            done = min(self.calls // 2, self.total)
            print(f"\rnumeric: {done:,} of {self.total:,} parameters, "
                  f"{time.perf_counter() - self.start:.0f} s", end="", file=sys.stderr)
            self.shown = True

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def backprop(net: Network, x, y, method: str = "full", *, input_grad: bool = False,
             intermediates: bool = False) -> Gradients:
    """The gradient of the network's loss with respect to every parameter (and, with
    ``input_grad=True``, with respect to the input: ``g["x"]``; with ``intermediates=True``,
    ``g.intermediates[l]`` = dC/d(output of layer l) for every layer, 1-based as
    ``net.layers`` counts them, by the same method).

    ``method`` is ``"full"`` (typed chain rule, deltas as labels), ``"dense"`` (the same chain
    with every local derivative materialised), ``"shortcut"`` (each layer's backward formula in
    numpy) or ``"numeric"`` (central differences). Each gradient is a :class:`Derivative` whose
    canonical shape is its parameter's shape.

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
    net = net.for_input() if input_grad else net
    fw = net.forward(x)
    y = net.loss_fn.targets(fw.output, y)  # checked once, here
    trace: list[Step] | Callable[[], list[Step]] = []
    with trusted():
        loss = net.loss_at(fw, y)
        if method == "full":
            grads, trace, largest = _full(net, fw, y)
        elif method == "dense":
            local = local_derivatives(net, fw, y)
            for d in local.values():
                d.check_dense_size()
            local = {k: _densify(d) for k, d in local.items()}
            acc = Accumulation(net, fw, local).run()
            grads, trace = acc.grads, acc.trace
            largest = max([acc.largest] + [d.nbytes_dense for d in local.values()])
        else:
            arrays, largest = (shortcut if method == "shortcut" else _numeric)(net, fw, y)
            if input_grad and method == "numeric":
                arrays["x"] = _numeric_input(net, fw, y)
            grads = {k: Derivative._wrap(v, (), v.shape, "C", "x" if k == "x" else net.symbol(k))
                     for k, v in arrays.items()}
    boundaries = {}
    if intermediates:
        with trusted():
            boundaries = layer_gradients(net, fw, y, method)
    seconds = time.perf_counter() - start
    names = [*net.params] + (["x"] if input_grad else [])
    return Gradients(method, {k: grads[k] for k in names}, loss, seconds, largest, trace,
                     boundaries)


def _numeric_input(net: Network, fw, y) -> np.ndarray:
    """dC/dx by central differences."""
    return numerical_derivative(lambda v: net.loss_at(net._run(net.params, v), y), fw.x,
                                of="C", wrt="x").dense().astype(net.dtype)

