"""The registry: every primitive (value, local derivatives, formulas) and every layer kind
(forward, structured local derivatives, shortcut backward), one family per module. It builds
on the core and knows nothing of networks."""

from .activations import (
    ACTIVATIONS,
    Activation,
    elu,
    gelu,
    gelu_tanh,
    identity,
    leaky_relu,
    relu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from .base import KINDS, NAMED, Ctx, Layer, as_layer
from .conv import Conv, Conv1d, Conv2d, conv1d, conv2d
from .dense import Dense, linear, linear_in_out
from .dropout import Dropout, dropout
from .embedding import Embedding
from .group_norms import BatchNorm2d, GroupNorm
from .loss import Loss, output_name
from .losses import LOSSES, binary_cross_entropy, cross_entropy, hinge, nll, squared_error
from .norms import BatchNorm, LayerNorm, batch_norm, layer_norm
from .pool import (
                          AvgPool,
                          AvgPool1d,
                          AvgPool2d,
                          Flatten,
                          MaxPool,
                          MaxPool1d,
                          MaxPool2d,
                          avg_pool1d,
                          avg_pool2d,
                          max_pool1d,
                          max_pool2d,
)
from .primitive import REGISTRY, Elementwise, Primitive, get
from .residual import Residual
from .softmax import Softmax, log_softmax, softmax

__all__ = [
    "AvgPool", "AvgPool1d", "AvgPool2d", "Conv", "Conv1d", "Conv2d", "Flatten", "MaxPool",
    "MaxPool1d", "MaxPool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "max_pool1d",
    "max_pool2d", "elu", "gelu", "gelu_tanh", "silu", "Embedding", "BatchNorm2d", "GroupNorm",
    "ACTIVATIONS", "KINDS", "LOSSES", "NAMED", "REGISTRY", "Activation", "BatchNorm", "Ctx",
    "Dense", "Dropout", "Elementwise", "Layer", "LayerNorm", "Loss", "Primitive", "Residual",
    "Softmax", "as_layer", "batch_norm", "binary_cross_entropy", "cross_entropy", "dropout",
    "get", "hinge", "identity", "layer_norm", "leaky_relu", "linear", "linear_in_out",
    "log_softmax", "nll", "output_name", "relu", "sigmoid", "softmax", "softplus",
    "squared_error", "tanh",
]
