"""Strategies for convolutional networks: convolution and pooling layers that fit an input, and
small CNNs with matching inputs and targets (maybe with group or batch norm over channels)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from ..kinks import near_kink
from ..layers import (
    Activation,
    AvgPool,
    BatchNorm2d,
    Conv,
    Dense,
    Flatten,
    GroupNorm,
    MaxPool,
    Softmax,
)
from ..network import Network
from .networks import CLASSIC, _pairs, _targets, activations


@st.composite
def conv_layers(draw, in_shape: tuple[int, ...], *, max_channels: int = 4, max_kernel: int = 5,
                max_stride: int = 3, max_padding: int = 2, max_dilation: int = 2):
    """``(layer, out_shape)``: a convolution or pooling layer that fits an input of
    ``in_shape`` (``(C, L)`` or ``(C, H, W)``), with drawn kernel, stride, padding and dilation
    (pooling: kernel and stride); None when no window fits."""
    dims = len(in_shape) - 1
    spatial = in_shape[1:]

    def axis_values(low, high):
        return st.tuples(*[st.integers(low, high)] * dims) if dims > 1 else st.integers(low, high)

    kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool"]))
    if kind == "conv":
        kernel, stride = draw(axis_values(1, max_kernel)), draw(axis_values(1, max_stride))
        padding, dilation = draw(axis_values(0, max_padding)), draw(axis_values(1, max_dilation))
        layer = Conv(draw(st.integers(1, max_channels)), kernel, stride, padding, dilation,
                     bias=draw(st.booleans()))
    else:
        kernel = draw(axis_values(1, min(3, min(spatial))))
        stride = draw(st.one_of(st.none(), axis_values(1, max_stride)))
        layer = (MaxPool if kind == "maxpool" else AvgPool)(kernel, stride)
    try:
        return layer, tuple(layer.output_shape(in_shape))
    except ValueError:
        return None, in_shape


def _map_norm(draw, shape: tuple[int, ...], batch: int) -> list:
    """Nothing, a group norm with groups dividing the channels, or (with a batch of more than
    one value per channel) a batch norm over channels."""
    c, positions = shape[0], int(np.prod(shape[1:]))
    options = ["none", "groupnorm"] + (["batchnorm2d"] if batch * positions >= 2 else [])
    kind = draw(st.sampled_from(options))
    if kind == "groupnorm" and c * positions >= 2:
        return [GroupNorm(draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0])))]
    return [BatchNorm2d()] if kind == "batchnorm2d" else []


@st.composite
def conv_stacks(draw, *, max_blocks: int = 2, max_size: int = 12, max_channels: int = 4,
                max_batch: int = 4, dims=None, dtype=np.float64, kink_margin: float = 1e-3):
    """``(net, x, y)``: a small CNN on an image ``(C, L)`` or ``(C, H, W)`` (sizes up to
    ``max_size``, batch 0..``max_batch``): up to ``max_blocks`` convolution or pooling layers
    with drawn configurations (kernel 1-5, stride 1-3, padding 0-2, dilation 1-2, channels
    1-4), after each convolution maybe a group norm or a batch norm over channels and then an
    activation, then flatten, a dense layer and a loss. Draws near a ReLU kink or a
    max-pooling tie are rejected."""
    dims = draw(st.sampled_from([1, 2])) if dims is None else dims
    shape = input_shape = (draw(st.integers(1, max_channels)),) + tuple(
        draw(st.integers(1, max_size)) for _ in range(dims))
    batch = draw(st.integers(0, max_batch))
    layers = []
    for _ in range(draw(st.integers(1, max_blocks))):
        layer, out = draw(conv_layers(shape, max_channels=max_channels))
        if layer is None:
            continue
        layers.append(layer)
        if isinstance(layer, Conv):
            layers += _map_norm(draw, out, batch) + [Activation(draw(activations()))]
        shape = out
    assume(layers)
    output, loss = draw(st.sampled_from(_pairs(CLASSIC)))
    n_out = draw(st.integers(2, 4))
    layers += [Flatten(), Dense(n_out)] + (
        [] if output == "identity" and loss != "squared_error" else
        [Softmax() if output == "softmax" else Activation(output)])
    seed = draw(st.integers(0, 2**32 - 1))
    net = Network.stack(layers, loss=loss, input_shape=input_shape, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    lead = (batch,) if batch else ()
    x = rng.normal(size=lead + net.input_shape).astype(dtype)
    y = _targets(draw, rng, loss, lead, n_out, dtype)
    if kink_margin:
        assume(not near_kink(net.forward(x), loss, y, kink_margin))
    return net, x, y
