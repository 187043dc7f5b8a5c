"""tensorcalc: typed derivative tensors and an einsum chain rule for backpropagation."""

from .backprop import METHODS, Gradients, Step, backprop
from .chain import chain
from .compare import Report, compare
from .derivative import Derivative, Factor, get_dense_limit, set_dense_limit
from .errors import (
    InvalidInputError,
    MemoryLimitError,
    ShapeMismatchError,
    TensorcalcError,
    UnknownNameError,
)
from .jacobian import jacobian
from .labels import kind_name
from .losses import LOSSES, cross_entropy, nll, squared_error
from .network import OUTPUTS, Forward, Network
from .notation import Explanation, explain
from .numeric import CheckReport, check_derivative, numerical_derivative
from .plot import plot, plot_chain
from .primitives import (
    ACTIVATIONS,
    REGISTRY,
    Elementwise,
    Primitive,
    identity,
    leaky_relu,
    linear,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "METHODS",
    "OUTPUTS",
    "REGISTRY",
    "CheckReport",
    "Forward",
    "Gradients",
    "Network",
    "Step",
    "backprop",
    "Derivative",
    "Elementwise",
    "Explanation",
    "Factor",
    "InvalidInputError",
    "MemoryLimitError",
    "Primitive",
    "Report",
    "ShapeMismatchError",
    "TensorcalcError",
    "UnknownNameError",
    "chain",
    "compare",
    "explain",
    "check_derivative",
    "cross_entropy",
    "get_dense_limit",
    "identity",
    "jacobian",
    "kind_name",
    "leaky_relu",
    "linear",
    "log_softmax",
    "nll",
    "numerical_derivative",
    "plot",
    "plot_chain",
    "relu",
    "set_dense_limit",
    "sigmoid",
    "softmax",
    "softplus",
    "squared_error",
    "tanh",
]
