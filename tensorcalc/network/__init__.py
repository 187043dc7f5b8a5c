"""Networks: a stack of placed layers with named parameters, a loss, and the forward pass."""

from .forward import Forward, Record
from .network import Network
from .nodes import Node
from .template import OUTPUTS

__all__ = ["OUTPUTS", "Forward", "Network", "Node", "Record"]
