"""The exact reference for a student's layer: registry layers run as a small network whose loss
makes dC/d(output) the upstream gradient ``dout``, so ``backprop(method="full")`` gives the
vector-Jacobian product of the structured chain, for the input and every parameter at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..backprop import backprop
from ..core.chain import chain
from ..core.derivative import Derivative
from ..core.validate import plain
from ..errors import TensorcalcError
from ..layers import Dropout, Flatten, Layer, Loss
from ..network import Network

#: ``0.5 * sum (a - y)^2`` has dC/da = a - y: with y = a - dout it is ``dout``.
_PROBE = Loss("squared_error", scale=0.5, reduction="sum")


def to_numpy(value) -> np.ndarray:
    """A copy as a numpy array of a numpy array, a list, or a tensor of an engine such as
    torch (see :func:`~tensorcalc.core.validate.plain`)."""
    return np.array(plain(value))


def like(template, array: np.ndarray):
    """``array`` in the array type of ``template`` (a torch tensor stays a tensor, with the
    template's dtype and device)."""
    if hasattr(template, "new_tensor"):
        return template.new_tensor(array)
    return np.asarray(array, dtype=np.asarray(template).dtype)


def as_layers(reference) -> list[Layer]:
    layers = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TensorcalcError(f"reference must be a registry layer or a list of them (e.g. "
                                  f"tc.BatchNorm(), [tc.Flatten(), tc.Dense(10, "
                                  f"weights='in_out')]); got {layer!r}.")
    return layers


def spelled(reference) -> str:
    """The reference as Python source (``tc.BatchNorm()``, ``[tc.Flatten(), tc.Dense(3)]``)."""
    layers = as_layers(reference)
    text = ", ".join(f"tc.{layer!r}" for layer in layers)
    return f"[{text}]" if isinstance(reference, (list, tuple)) else text


@dataclass
class Reference:
    """The reference's forward value and its gradients by the student's input names, each in
    the shape the student holds it."""

    out: np.ndarray
    grads: dict[str, np.ndarray]
    #: The reference layers as run (a dropout given the mask read from the student's output).
    layers: list[Layer]


def _mask_from(layers: list[Layer], x: np.ndarray, student_out) -> list[Layer]:
    """A dropout without a mask takes the student's: kept where the output is not zero (or
    where the input is zero, which a mask cannot change)."""
    out = []
    for k, layer in enumerate(layers):
        if isinstance(layer, Dropout) and layer.mask is None:
            if k or student_out is None or np.shape(student_out) != x.shape:
                raise TensorcalcError("a Dropout reference without a mask reads the mask from "
                                      "your output, so it must be the only layer and your "
                                      "output must have the input's shape; or pass "
                                      "tc.Dropout(p, mask=...).")
            layer = Dropout(layer.p, mask=((student_out != 0) | (x == 0)).astype(float))
        out.append(layer)
    return out


def _network(reference_layers, inputs: Mapping[str, object], student_out=None):
    """The reference as a network with the student's parameters: (net, x, layers, names,
    arrays, whether x holds integer ids)."""
    names = list(inputs)
    arrays = {k: to_numpy(v) for k, v in inputs.items()}
    x = arrays[names[0]]
    integer = x.dtype.kind in "biu"
    x = x if integer else x.astype(np.float64)
    if x.ndim < 2:
        raise TensorcalcError(f"the layer's input {names[0]!r} must be a batch (N, ...) with the "
                              f"samples along axis 0; got shape {x.shape}.")
    layers = _mask_from(as_layers(reference_layers), x, student_out)
    net = Network.stack(layers, input_shape=x.shape[1:], loss=_PROBE)
    ours = list(net.params)
    if len(names) - 1 != len(ours):
        raise TensorcalcError(
            f"the reference {spelled(reference_layers)} takes the input and then "
            f"{len(ours)} parameters ({', '.join(ours) or 'none'}), in that order; inputs has "
            f"{len(names)} arrays ({', '.join(names)}).")
    params = {}
    for ours_name, name in zip(ours, names[1:]):
        want = net.params[ours_name].shape
        if arrays[name].size != int(np.prod(want)):
            raise TensorcalcError(f"inputs[{name!r}] has shape {arrays[name].shape}; the "
                                  f"reference's {ours_name} has shape {want}.")
        params[ours_name] = arrays[name].reshape(want).astype(np.float64)
    return net.with_params(params), x, layers, names, arrays, integer


def reference(reference_layers, inputs: Mapping[str, object], dout=None,
              student_out=None) -> Reference:
    """The exact forward value and gradients of ``reference_layers`` at ``inputs`` (the
    layer's input first, then its parameters in the layers' order), contracted with ``dout``
    (none: the forward value only). Integer inputs get no gradient."""
    net, x, layers, names, arrays, integer = _network(reference_layers, inputs, student_out)
    out = net(x)
    if dout is None:
        return Reference(out, {}, layers)
    return Reference(out, _vjp(layers, net, x, dict(net.params), to_numpy(dout), names,
                               arrays, integer), layers)


def term_vjps(reference_layers, inputs: Mapping[str, object], dout) -> dict[str, list]:
    """For a one-layer reference: each input's gradient split by the terms of the layer's
    local derivative, as ``[(array, index notation of the term), ...]`` by input name."""
    net, x, layers, names, arrays, integer = _network(reference_layers, inputs)
    if len(net.layers) != 1:
        return {}
    rec = net.forward(x).records[0]
    upstream = to_numpy(dout).astype(np.float64).reshape(rec.ctx.y.shape)
    g = Derivative._wrap(upstream, (), upstream.shape, "C", rec.ctx.sym["out"])
    wrts = ([] if integer else [("x", names[0])]) + [
        (s, name) for s, name in zip(net.layers[0].params, names[1:])]
    out = {}
    for wrt, name in wrts:
        local = net.layers[0].local(rec.ctx, wrt)
        out[name] = [(chain(g, local.term(k)).dense().reshape(arrays[name].shape),
                      local.term(k).index_notation()) for k in range(len(local.terms))]
    return out


def _vjp(layers, net, x, params, dout, names, arrays, integer) -> dict[str, np.ndarray]:
    out = net(x)
    if dout.size != out.size:
        raise TensorcalcError(f"dout has shape {dout.shape}; the layer's output has shape "
                              f"{out.shape}.")
    dout = dout.reshape(out.shape).astype(np.float64)
    probe = net
    if out.ndim > 2:  # the loss takes (N, n): read the output flattened
        probe = Network.stack([*layers, Flatten()], input_shape=x.shape[1:], loss=_PROBE,
                              params=params)
    flat = out.reshape(out.shape[0], -1)
    g = backprop(probe, x, flat - dout.reshape(flat.shape), "full", input_grad=not integer)
    grads = {name: g[ours].dense().reshape(arrays[name].shape)
             for ours, name in zip(probe.params, names[1:])}
    if not integer:
        grads = {names[0]: g["x"].dense().reshape(arrays[names[0]].shape)} | grads
    return grads
