"""Networks: a stack of typed layers, parameters by name, a loss, a forward pass that keeps
every layer's values."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from numbers import Real
from types import MappingProxyType

import numpy as np

from ..core.validate import trusted
from ..errors import ShapeMismatchError, TensorcalcError
from ..layers import Activation, Dense, Layer, Loss, Softmax, identity, softmax
from ..layers.grammar import parse_layers
from .checks import check_input, valid_dtype, valid_seed
from .conventions import Convention
from .forward import Forward, run
from .nodes import Node, build, local_keys, mark_inputs
from .student import read_params, student_of
from .summary import network_html, network_text
from .template import dense_stack, describe_template, stack_of_params


class Network:
    """A stack of layers with named parameters and a loss.

    Build one with :meth:`stack` (any layers), :meth:`random` (the dense template of the
    references) or :meth:`from_params` (given weights).

    >>> import tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="sigmoid", output="sigmoid",
    ...                         loss="squared_error", seed=0)
    >>> net.sizes, net.params["W1"].shape, net.depth
    ([3, 4, 2], (4, 3), 2)

    ``params`` may be the student's own arrays: a mapping in their names (``names`` maps
    tensorcalc's names to theirs, and may leave some out), or a list in the order of ``names``
    (tensorcalc's names). Each array may hold its entries in another singleton layout than
    the layer's ((1, n) or (n, 1) for (n,), (1, C, 1, 1) for (C,)): the network computes with
    the layer's shape, remembers the student's (``net.student``), and gradient checks expect
    and report that shape. ``numbering="by_dense"`` names a norm's parameters after the dense
    or conv layer before it, as the classic assignment does (the default is ``"by_layer"``):

    >>> import numpy as np
    >>> mine = {"W1": np.ones((4, 3)), "b1": np.zeros((1, 4)), "bngain": np.ones((1, 4)),
    ...         "bnbias": np.zeros((1, 4)), "W2": np.ones((2, 4)), "b2": np.zeros(2)}
    >>> net = tc.Network.stack([tc.Dense(4), tc.BatchNorm(), "relu", tc.Dense(2)],
    ...                        input_shape=(3,), params=mine, numbering="by_dense",
    ...                        names={"gamma1": "bngain", "beta1": "bnbias"})
    >>> list(net.params), net.params["gamma1"].shape, net.student.shapes["gamma1"]
    (['W1', 'b1', 'gamma1', 'beta1', 'W2', 'b2'], (4,), (1, 4))
    """

    def __init__(self, layers: Sequence, loss="squared_error", input_shape=None, seed=0,
                 dtype=np.float64, weight_decay: float = 0.0, params=None, names=None,
                 numbering: str = "by_layer") -> None:
        if input_shape is None:
            raise TensorcalcError("a network needs input_shape, the shape of one sample, e.g. "
                                  "input_shape=(8,).")
        shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else input_shape
        try:
            shape = tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            shape = ()
        if not shape or any(n < 1 for n in shape):
            raise ShapeMismatchError(f"input_shape must list positive sizes, e.g. (8,); got "
                                     f"{input_shape!r}.")
        if isinstance(layers, str):
            layers = parse_layers(layers)
        if isinstance(layers, Layer) or not len(layers):
            raise TensorcalcError("a network needs a non-empty list of layers, e.g. "
                                  "[tc.Dense(4), 'relu', tc.Dense(2)].")
        if not isinstance(weight_decay, Real) or not weight_decay >= 0:
            raise TensorcalcError(f"weight_decay must be a number >= 0; got {weight_decay!r}.")
        self.input_shape = shape
        self.numbering = numbering
        self.nodes: list[Node] = mark_inputs(build(layers, shape, numbering=numbering))
        self.layers = tuple(n.layer for n in self.nodes)
        self.loss_fn = Loss.of(loss)
        self.loss_fn.check_pairing(self.layers[-1])
        self.weight_decay = float(weight_decay)
        self._dtype = valid_dtype(dtype)
        #: Parameters by name, read-only (build a changed network with :meth:`with_params`).
        self.params = MappingProxyType(self._check_params(params, names, seed))
        self.local_keys = local_keys(self.nodes)
        #: What compiled chains depend on besides the data's shapes (names and type included).
        loss, symbols = self.loss_fn, tuple(tuple(n.sym.items()) for n in self._placed())
        self.signature = (tuple(layer.spec() for layer in self.layers), loss.name,
                          id(loss.primitive), loss.scale, loss.reduction, self.weight_decay,
                          tuple(self.params), symbols, np.dtype(self.dtype).char)

    stack = classmethod(lambda cls, layers, **options: cls(layers, **options))
    stack.__doc__ = ("A network from any stack of layers: ``Network.stack(layers, loss=..., "
                     "input_shape=..., params=..., names=..., numbering=...)``.")

    def _placed(self):
        for top in self.nodes:
            yield from top.walk()

    def _init(self, rng, dtype) -> dict:
        params = {}
        for node in self._placed():
            values = node.layer.init(rng, node.in_shape, dtype)
            params.update({node.names[s]: values[s] for s in node.layer.params})
        return params

    def _check_params(self, params, names, seed) -> dict[str, np.ndarray]:
        expected = {node.names[s]: (node.where, tuple(shape)) for node in self._placed()
                    for s, shape in node.layer.param_shapes(node.in_shape).items()}
        if params is None:
            self.student = student_of(names, expected)
            arrays = self._init(np.random.default_rng(valid_seed(seed)), self._dtype)
        else:
            arrays, self.student = read_params(params, names, expected)
        dtype = np.result_type(*arrays.values()) if arrays else self._dtype
        out = {}
        for name, arr in arrays.items():
            out[name] = np.array(arr, dtype=dtype)
            out[name].flags.writeable = False
        return out

    # ------------------------------------------------------------------ templates
    @classmethod
    def random(cls, sizes: Sequence[int], *, hidden="sigmoid", output="sigmoid",
               loss="squared_error", bias: bool = True, seed: int | None = 0,
               dtype=np.float64) -> Network:
        """Dense layers of widths ``sizes`` (input width first), ``hidden`` activations (a
        name, or one name per hidden layer) and an ``output`` activation; weights ~ N(0,
        1/n_{l-1}) and biases ~ N(0, 0.1^2), drawn from ``seed`` (a non-negative integer or
        None)."""
        layers, input_shape = dense_stack(sizes, hidden, output, bias)
        return cls(layers, loss=loss, input_shape=input_shape, seed=valid_seed(seed),
                   dtype=valid_dtype(dtype))

    @classmethod
    def from_params(cls, params: Mapping[str, object], *, hidden="sigmoid", output="sigmoid",
                    loss="squared_error", weights="out_in", bias="flat",
                    names=None) -> Network:
        """A dense network from explicit weights ``{"W1": ..., "b1": ..., ...}`` (leave out a
        ``b`` for a layer without bias); ``W<l>`` has shape (n_l, n_{l-1}). A student's
        parameters in another convention are read with ``weights="in_out"`` (W stored (n_{l-1},
        n_l)), ``bias="column"`` ((n, 1) biases) and ``names={"W1": "w1", ...}`` (remembered:
        gradient checks then read and report ``w1``).

        >>> import numpy as np, tensorcalc as tc
        >>> mine = {"w1": np.ones((3, 4)), "b1": np.zeros((4, 1)), "w2": np.ones((4, 2))}
        >>> net = tc.Network.from_params(mine, weights="in_out", bias="column",
        ...                              names={"W1": "w1", "W2": "w2"})
        >>> net.sizes, net.params["W1"].shape, net.params["b1"].shape
        ([3, 4, 2], (4, 3), (4,))
        """
        convention = Convention(weights=weights, bias=bias, names=names)
        if not convention.is_default:
            params = convention.read(params)
        layers, input_shape = stack_of_params(params, hidden, output)
        net = cls(layers, loss=loss, input_shape=input_shape, params=params)
        net.student = net.student.renamed(names)
        return net

    def with_params(self, mapping: Mapping[str, object]) -> Network:
        """A copy with the parameters in ``mapping`` replaced (the rest kept)."""
        unknown = set(mapping) - set(self.params)
        if unknown:
            raise TensorcalcError(f"unknown parameters {sorted(unknown)}; this network has "
                                  f"{', '.join(self.params)}.")
        net = Network(self.layers, loss=self.loss_fn, input_shape=self.input_shape,
                      weight_decay=self.weight_decay, params={**self.params, **mapping},
                      dtype=self.dtype, numbering=self.numbering)
        net.student = self.student
        return net

    def with_param(self, name: str, value: np.ndarray) -> Network:
        """A copy with one parameter replaced (used by finite differences)."""
        return self.with_params({name: value})

    # ------------------------------------------------------------------ structure
    def symbol(self, name: str) -> str:
        """How parameter ``name`` is written in formulas: ``W^1`` for ``W1``."""
        for node in self._placed():
            for s, n in node.names.items():
                if n == name:
                    return node.sym[s]
        raise TensorcalcError(f"unknown parameter {name!r}; this network has "
                              f"{', '.join(self.params)}.")

    @property
    def depth(self) -> int:
        """How many layers have parameters."""
        return sum(1 for node in self._placed() if node.layer.params)

    @property
    def sizes(self) -> list[int]:
        """The input width, then each top-level dense layer's width."""
        return [int(np.prod(self.input_shape))] + [
            layer.n_out for layer in self.layers if isinstance(layer, Dense)]

    @property
    def bias(self) -> bool:
        """True when every dense layer has a bias."""
        return all(n.layer.bias for n in self._placed() if isinstance(n.layer, Dense))

    @property
    def dtype(self) -> np.dtype:
        return next(iter(self.params.values())).dtype if self.params else self._dtype

    def activation(self, l: int):
        """The activation primitive that follows the l-th layer with parameters (1-based;
        ``identity`` where none does)."""
        seen = 0
        for k, node in enumerate(self.nodes):
            seen += bool(node.layer.params)
            if seen == l and node.layer.params:
                nxt = self.layers[k + 1] if k + 1 < len(self.layers) else None
                if isinstance(nxt, Activation):
                    return nxt.primitive
                return softmax if isinstance(nxt, Softmax) else identity
        raise TensorcalcError(f"there is no layer {l} with parameters; depth is {self.depth}.")

    @property
    def hidden(self):
        """The hidden activation of a dense template with one shared activation, else None."""
        acts = {self.activation(l).name: self.activation(l) for l in range(1, self.depth)}
        return next(iter(acts.values())) if len(acts) == 1 else None

    @property
    def output(self):
        """The output activation (``identity`` when the stack ends in no activation)."""
        last = self.layers[-1]
        if isinstance(last, Activation):
            return last.primitive
        return softmax if isinstance(last, Softmax) else identity

    # ------------------------------------------------------------------ computation
    def check_input(self, x: object) -> np.ndarray:
        """``x`` checked against the input shape (one sample or a batch), in the net's dtype."""
        return check_input(x, self.input_shape, self.dtype)

    def for_input(self) -> Network:
        """The same network, marked so that backprop carries the gradient down to the input
        (``backprop(..., input_grad=True)``): every layer then needs its input derivative."""
        view = self.__dict__.get("_input_view")
        if view is None:
            view = copy.copy(self)
            view.nodes = mark_inputs(self.nodes, below=True)
            view.local_keys = local_keys(view.nodes)
            view.signature = self.signature + ("input",)
            self.__dict__["_input_view"] = view
        return view

    def forward(self, x: object) -> Forward:
        """Run the network and keep every layer's input and output."""
        x = self.check_input(x)
        with trusted():  # x is checked above, the parameters at construction
            return self._run(self.params, x)

    def _run(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> Forward:
        """The forward pass with the given (already checked) parameters."""
        batched = x.ndim > len(self.input_shape)
        return Forward(x, run(self.nodes, params, x, batched))

    def __call__(self, x: object) -> np.ndarray:
        return self.forward(x).output

    def decay_value(self, params: Mapping[str, np.ndarray]) -> float:
        """``weight_decay`` times the sum of squares of the weight matrices."""
        if not self.weight_decay:
            return 0.0
        return self.weight_decay * sum(float(np.sum(params[n.names[s]] ** 2))
                                       for n in self._placed() for s in n.layer.decay)

    def loss_at(self, fw: Forward, y, params=None) -> float:
        """The loss of a forward pass (plus weight decay)."""
        logits = fw.logits if self.loss_fn.fuses(self.layers[-1]) else None
        value = self.loss_fn.value(fw.output, y, logits)
        return value + self.decay_value(self.params if params is None else params)

    def loss(self, x: object, y: object) -> float:
        """The loss C (the mean over samples for a batch, unless the loss sums), with weight
        decay."""
        return self.loss_at(self.forward(x), y)

    def summary(self) -> str:
        """The layers as a table: output shapes, parameters and their counts."""
        return network_text(self)

    def _repr_pretty_(self, p, cycle) -> None: p.text(self.summary())
    _repr_html_ = network_html

    def __repr__(self) -> str:
        template = describe_template(self)
        if template:
            return template
        opts = f", loss={self.loss_fn!r}, input_shape={self.input_shape}"
        if self.weight_decay:
            opts += f", weight_decay={self.weight_decay:g}"
        if self.numbering != "by_layer":
            opts += f", numbering={self.numbering!r}"
        return f"Network.stack([{', '.join(map(repr, self.layers))}]{opts}, dtype={self.dtype})"
