"""Networks: a stack of typed layers, parameters by name, a loss, a forward pass that keeps
every layer's values."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from numbers import Real
from types import MappingProxyType

import numpy as np

from ..core.validate import as_float_array, trusted
from ..errors import InvalidInputError, ShapeMismatchError, TensorcalcError
from ..layers import Activation, Dense, Layer, Loss, Softmax, identity, softmax
from ..layers.grammar import parse_layers
from .conventions import Convention
from .forward import Forward, run
from .nodes import Node, build, local_keys, mark_inputs
from .template import dense_stack, describe_template, stack_of_params


def _dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise InvalidInputError("dtype must be np.float32 or np.float64.")
    return dtype


def _seed(seed):
    if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise InvalidInputError(f"seed must be a non-negative integer or None; got {seed!r}.")
    return seed


class Network:
    """A stack of layers with named parameters and a loss.

    Build one with :meth:`stack` (any layers), :meth:`random` (the dense template of the
    references) or :meth:`from_params` (given weights).

    >>> import tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], hidden="sigmoid", output="sigmoid",
    ...                         loss="squared_error", seed=0)
    >>> net.sizes, net.params["W1"].shape, net.depth
    ([3, 4, 2], (4, 3), 2)
    """

    def __init__(self, layers: Sequence, loss="squared_error", input_shape=None, seed=0,
                 dtype=np.float64, weight_decay: float = 0.0, params=None) -> None:
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
        self.nodes: list[Node] = mark_inputs(build(layers, shape))
        self.layers = tuple(n.layer for n in self.nodes)
        self.loss_fn = Loss.of(loss)
        self.loss_fn.check_pairing(self.layers[-1])
        self.weight_decay = float(weight_decay)
        self._dtype = _dtype(dtype)
        if params is None:
            params = self._init(np.random.default_rng(_seed(seed)), self._dtype)
        #: Parameters by name, read-only (build a changed network with :meth:`with_params`).
        self.params = MappingProxyType(self._check_params(params))
        self.local_keys = local_keys(self.nodes)
        #: What a compiled backprop chain depends on besides the input's shape.
        self.signature = (tuple(layer.spec() for layer in self.layers), self.loss_fn.name,
                          bool(self.weight_decay))

    stack = classmethod(lambda cls, layers, **options: cls(layers, **options))
    stack.__doc__ = "A network from any stack of layers: ``Network.stack(layers, loss=...)``."

    def _placed(self):
        for top in self.nodes:
            yield from top.walk()

    def _init(self, rng, dtype) -> dict:
        params = {}
        for node in self._placed():
            values = node.layer.init(rng, node.in_shape, dtype)
            params.update({node.names[s]: values[s] for s in node.layer.params})
        return params

    def _check_params(self, params: Mapping[str, object]) -> dict[str, np.ndarray]:
        expected = {node.names[s]: (node, s, shape) for node in self._placed()
                    for s, shape in node.layer.param_shapes(node.in_shape).items()}
        missing, unknown = set(expected) - set(params), set(params) - set(expected)
        if missing or unknown:
            raise TensorcalcError(
                f"this stack's parameters are {', '.join(expected)}; "
                + (f"missing {sorted(missing)}" if missing else "")
                + ("; " if missing and unknown else "")
                + (f"unexpected {sorted(unknown)}" if unknown else "") + ".")
        arrays = {k: as_float_array(params[k], k) for k in expected}
        dtype = np.result_type(*arrays.values()) if arrays else self._dtype
        out = {}
        for name, (node, _, shape) in expected.items():
            if arrays[name].shape != tuple(shape):
                raise ShapeMismatchError(f"{name} must have shape {tuple(shape)} for "
                                         f"{node.where}; got {arrays[name].shape}.")
            out[name] = np.array(arrays[name], dtype=dtype)
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
        return cls(layers, loss=loss, input_shape=input_shape, seed=_seed(seed),
                   dtype=_dtype(dtype))

    @classmethod
    def from_params(cls, params: Mapping[str, object], *, hidden="sigmoid", output="sigmoid",
                    loss="squared_error", weights="out_in", bias="flat",
                    names=None) -> Network:
        """A dense network from explicit weights ``{"W1": ..., "b1": ..., ...}`` (leave out a
        ``b`` for a layer without bias); ``W<l>`` has shape (n_l, n_{l-1}). A student's
        parameters in another convention are read with ``weights="in_out"`` (W stored (n_{l-1},
        n_l)), ``bias="column"`` ((n, 1) biases) and ``names={"W1": "w1", ...}``.

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
        return cls(layers, loss=loss, input_shape=input_shape, params=params)

    def with_params(self, mapping: Mapping[str, object]) -> Network:
        """A copy with the parameters in ``mapping`` replaced (the rest kept)."""
        unknown = set(mapping) - set(self.params)
        if unknown:
            raise TensorcalcError(f"unknown parameters {sorted(unknown)}; this network has "
                                  f"{', '.join(self.params)}.")
        return Network(self.layers, loss=self.loss_fn, input_shape=self.input_shape,
                       weight_decay=self.weight_decay, params={**self.params, **mapping},
                       dtype=self.dtype)

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
        x = as_float_array(x, "x")
        shape = self.input_shape
        text = (f"({shape[0]},)" if len(shape) == 1 else str(shape))
        batch = "(N, " + ", ".join(map(str, shape)) + ")"
        if x.ndim not in (len(shape), len(shape) + 1) or x.shape[x.ndim - len(shape):] != shape:
            raise ShapeMismatchError(f"x must have shape {text} for one sample or {batch} for a "
                                     f"batch; got {x.shape}.")
        if x.ndim > len(shape) and x.shape[0] == 0:
            raise InvalidInputError(f"x is an empty batch (shape {x.shape}); pass at least one "
                                    f"sample.")
        return x.astype(self.dtype, copy=False)

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

    def __repr__(self) -> str:
        template = describe_template(self)
        if template:
            return template
        opts = f", loss={self.loss_fn!r}, input_shape={self.input_shape}"
        if self.weight_decay:
            opts += f", weight_decay={self.weight_decay:g}"
        return f"Network.stack([{', '.join(map(repr, self.layers))}]{opts}, dtype={self.dtype})"
