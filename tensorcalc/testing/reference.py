"""The exact reference for a student's layer: registry layers run as a small network whose loss
makes dC/d(output) the upstream gradient ``dout``, so ``backprop(method="full")`` gives the
vector-Jacobian product of the structured chain, for the input and every parameter at once."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..backprop import backprop
from ..core.chain import chain
from ..core.derivative import Derivative
from ..core.validate import plain
from ..errors import ShapeMismatchError, TensorcalcError
from ..layers import NAMED, Activation, Dropout, Flatten, Layer, Loss, as_layer
from ..network import Network
from .arguments import require_dout

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
    """The reference as a list of registry layers: a layer, a bare name a stack takes
    (``"relu"``, ``"softmax"``), or a list of them."""
    layers = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    out = []
    for layer in layers:
        if isinstance(layer, str) and layer in NAMED:
            layer = as_layer(layer)
        if not isinstance(layer, Layer):
            near = difflib.get_close_matches(layer, list(NAMED), n=1) if isinstance(
                layer, str) else []
            hint = (f" Did you mean {near[0]!r}, that is {source(as_layer(near[0]))}?"
                    if near else "")
            raise TensorcalcError(f"reference must be a registry layer, a name such as 'relu', "
                                  f"or a list of them (e.g. tc.BatchNorm(), tc.Activation("
                                  f"'relu'), [tc.Flatten(), tc.Dense(10, weights='in_out')]); "
                                  f"got {layer!r}; the names are {', '.join(map(repr, NAMED))}."
                                  f"{hint}")
        out.append(layer)
    return out


def source(layer: Layer) -> str:
    """One layer as Python source: ``tc.Activation('relu')``, ``tc.Softmax()``, ``tc.Dense(3)``
    (a layer whose repr is its bare name gets its class spelled out)."""
    text = repr(layer)
    if text[:1] in "'\"":
        return f"tc.{type(layer).__name__}({text if isinstance(layer, Activation) else ''})"
    return f"tc.{text}"


def spelled(reference) -> str:
    """The reference as Python source (``tc.BatchNorm()``, ``[tc.Flatten(), tc.Dense(3)]``)."""
    text = ", ".join(map(source, as_layers(reference)))
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
    where the input is zero, which a mask cannot change). A student's output of another shape
    leaves every entry kept; the caller reports the shapes."""
    out = []
    for k, layer in enumerate(layers):
        if isinstance(layer, Dropout) and layer.mask is None:
            if k or student_out is None:
                raise TensorcalcError("a Dropout reference without a mask reads the mask from "
                                      "your output, so it must be the only layer and your "
                                      "output must have the input's shape; or pass "
                                      "tc.Dropout(p, mask=...).")
            kept = (np.ones(x.shape) if np.shape(student_out) != x.shape else
                    (student_out != 0) | (x == 0))
            layer = Dropout(layer.p, mask=kept.astype(float))
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
    params = {ours_name: _fitted(name, arrays[name], ours_name, net.params[ours_name].shape,
                                 reference_layers)
              for ours_name, name in zip(ours, names[1:])}
    return net.with_params(params), x, layers, names, arrays, integer


def _unit_free(shape: tuple) -> tuple:
    return tuple(n for n in shape if n != 1)


def _fitted(name: str, given: np.ndarray, ours: str, want: tuple, reference_layers
            ) -> np.ndarray:
    """A parameter in the reference's shape. It may differ from it only by singleton axes
    (gamma held as (1, D) or (1, C, 1, 1) for (D,) or (C,)); any other shape is refused, even
    with the right number of entries (an (in, out) weight is not an (out, in) one)."""
    if given.shape != want and _unit_free(given.shape) != _unit_free(want):
        hint = ""
        if given.ndim == 2 and given.shape == want[::-1]:
            hint = (" It is the expected shape transposed: a weight stored (in, out) against "
                    "an (out, in) reference, or the other way round. Build the reference in "
                    "your convention (tc.Dense(n, weights=\"in_out\") for z = x W + b, the "
                    "default weights=\"out_in\" for z = x W^T + b) or pass the transpose "
                    f"(inputs[{name!r}].T).")
        elif given.size == int(np.prod(want)):
            hint = (" It has the right number of entries in another layout, which is never "
                    "reshaped: hold it as the reference's layer does.")
        raise ShapeMismatchError(f"inputs[{name!r}] has shape {given.shape}; the reference "
                                 f"{spelled(reference_layers)} expects its {ours} with shape "
                                 f"{want}.{hint}")
    return given.reshape(want).astype(np.float64)


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
    require_dout(dout, out.shape, "the layer's output")
    dout = dout.astype(np.float64)
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
