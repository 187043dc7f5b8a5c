"""Strategies for networks with matching inputs and targets: the dense template of the
references (:func:`networks`), and stacks of every layer kind and loss (:func:`stacks`)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from ..kinks import near_kink
from ..layers import (
    ACTIVATIONS,
    LOSSES,
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    Loss,
    Residual,
    Softmax,
)
from ..network import OUTPUTS, Network

#: Block kinds :func:`stacks` draws from.
KINDS = ("dense", "in_out", "batchnorm", "layernorm", "residual", "dropout", "embedding")
#: The output layer each loss is drawn with (squared error: any output).
CLASSIC = ("squared_error", "cross_entropy", "nll")


def activations() -> st.SearchStrategy[str]:
    """Names of hidden activations."""
    return st.sampled_from(list(ACTIVATIONS))


def outputs() -> st.SearchStrategy[str]:
    """Names of output activations (every activation, and softmax)."""
    return st.sampled_from(list(OUTPUTS))


def losses() -> st.SearchStrategy[str]:
    """Names of losses."""
    return st.sampled_from(list(LOSSES))


def _pairs(names) -> list[tuple[str, str]]:
    pairs = [(o, "squared_error") for o in OUTPUTS] if "squared_error" in names else []
    pairs += [(o, n) for o, n in (("softmax", "cross_entropy"), ("identity", "nll"),
                                  ("sigmoid", "binary_cross_entropy"), ("identity", "hinge"))
              if n in names]
    return pairs


def pairings(losses=CLASSIC) -> st.SearchStrategy[tuple[str, str]]:
    """Valid (output activation, loss) pairs among ``losses``: squared error after any output,
    cross-entropy after softmax, NLL and hinge on a linear last layer, binary cross-entropy after
    sigmoid."""
    return st.sampled_from(_pairs(losses))


def layer_sizes(min_depth: int = 1, max_depth: int = 4, max_width: int = 16,
                min_width: int = 1):
    """Layer widths ``[n_0, ..., n_L]`` with depth L in the given range, each width in
    ``min_width..max_width``."""
    return st.lists(st.integers(min_width, max_width), min_size=min_depth + 1,
                    max_size=max_depth + 1)


def class_indices(n_classes: int, batch: int | None) -> st.SearchStrategy:
    """A class index (``batch=None``) or an (N,) array of them."""
    if batch is None:
        return st.integers(0, n_classes - 1)
    return st.lists(st.integers(0, n_classes - 1), min_size=batch, max_size=batch).map(np.array)


def one_hot_targets(n_classes: int, batch: int | None) -> st.SearchStrategy[np.ndarray]:
    """One-hot target rows of width ``n_classes``."""
    return class_indices(n_classes, batch).map(lambda c: np.eye(n_classes)[c])


def _batch(draw, batch, min_batch: int, max_batch: int) -> int:
    if batch == "vector":
        return 0
    if isinstance(batch, int):
        return batch
    return draw(st.integers(min_batch, max(min_batch, max_batch)))


@st.composite
def networks(draw, *, min_depth=1, max_depth=4, max_width=16, max_batch=8, hidden=None,
             pairing=None, bias=None, dtype=np.float64, kink_margin: float = 1e-3,
             min_width: int = 1, batch=None, min_batch: int = 0, hiddens=None, pairs=None,
             targets=None, min_classes: int = 1, kinds=None):
    """``(net, x, y)``: a random dense :class:`~tensorcalc.Network` with a matching input and
    target; with ``kinds`` (block kinds of :func:`stacks`, e.g. ``("dense", "batchnorm",
    "residual")``) a stack of those kinds instead (:func:`conv_stacks` draws CNNs).

    Structure (depth, widths, activations, output/loss pairing, bias, batch) is drawn so that
    hypothesis can shrink it; weights and inputs come from a drawn seed. Pin or narrow it for
    an assignment: ``min_width``/``max_width`` (a width-1 hidden layer is drawn unless
    ``min_width=2``), ``hidden`` (one name) or ``hiddens`` (names to draw from), ``pairing`` or
    ``pairs`` (``(output, loss)`` pairs to draw from, e.g. ``pairings(tc.LOSSES)`` includes
    binary cross-entropy and hinge), ``batch`` (``"vector"`` for one sample as a vector, an
    int for a fixed batch, None to draw ``min_batch..max_batch``; 0 is a vector), ``targets``
    (``"indices"`` or ``"one-hot"`` for classification), ``min_classes``. For ReLU-like hidden
    layers, draws whose pre-activations come within ``kink_margin`` of the kink at 0 are
    rejected, so finite differences stay valid.
    """
    if kinds is not None:
        return draw(stacks(min_depth=min_depth, max_depth=max_depth, max_width=max_width,
                           max_batch=max_batch, kinds=tuple(kinds), hidden=hidden, dtype=dtype,
                           kink_margin=kink_margin))
    sizes = draw(layer_sizes(min_depth, max_depth, max_width, min_width))
    if hidden is None:
        hidden = draw(st.sampled_from(list(hiddens)) if hiddens else activations())
    if pairing is None:
        pairing = draw(pairs if isinstance(pairs, st.SearchStrategy) else
                       st.sampled_from(list(pairs)) if pairs else pairings())
    output, loss = pairing
    classes = loss in ("cross_entropy", "nll", "hinge")
    if classes and sizes[-1] < min_classes:
        sizes[-1] = min_classes
    bias = draw(st.booleans()) if bias is None else bias
    batch = _batch(draw, batch, min_batch, max_batch)
    seed = draw(st.integers(0, 2**32 - 1))
    net = Network.random(sizes, hidden=hidden, output=output, loss=loss, bias=bias, seed=seed,
                         dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    lead = (batch,) if batch else ()
    x = rng.normal(size=lead + (sizes[0],)).astype(dtype)
    if loss in ("squared_error", "binary_cross_entropy") or (loss == "hinge" and sizes[-1] == 1):
        y = _targets(draw, rng, loss, lead, sizes[-1], dtype)
    elif targets == "indices" or (targets is None and draw(st.booleans())):
        y = draw(class_indices(sizes[-1], batch or None))
    else:
        y = draw(one_hot_targets(sizes[-1], batch or None)).astype(dtype)
    if kink_margin:
        assume(not near_kink(net.forward(x), loss, y, kink_margin))
    return net, x, y


def _hidden_block(draw, kind: str, width: int, max_width: int, act: str, batch: int):
    """One hidden block of ``kind`` after an input of ``width``: its layers and output width."""
    if kind == "residual":
        inner = [Dense(width), act] + ([LayerNorm()] if draw(st.booleans()) else [])
        return [Residual(inner)], width
    n = draw(st.integers(1, max_width))
    dense = Dense(n, bias=draw(st.booleans()),
                  weights="in_out" if kind == "in_out" else "out_in")
    if kind == "batchnorm" and batch >= 2:
        return [dense, BatchNorm(unbiased=draw(st.booleans())), act], n
    if kind in ("batchnorm", "layernorm"):
        return [dense, LayerNorm(), act], n
    if kind == "dropout":
        p = draw(st.sampled_from([0.25, 0.5]))
        if draw(st.booleans()):  # a given mask, shared by the batch
            mask = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
            return [dense, act, Dropout(p, mask=np.array(mask))], n
        return [dense, act, Dropout(p, seed=draw(st.integers(0, 9)))], n
    return [dense, act], n


def _targets(draw, rng, loss: str, lead: tuple, n_out: int, dtype):
    if loss == "squared_error":
        return rng.uniform(size=lead + (n_out,)).astype(dtype)
    if loss == "binary_cross_entropy":
        return rng.uniform(size=lead + (n_out,)).astype(dtype)
    if loss == "hinge" and n_out == 1:
        return rng.choice([-1.0, 1.0], size=lead).astype(dtype) if lead else float(
            rng.choice([-1.0, 1.0]))
    if loss != "hinge" and not draw(st.booleans()):
        return draw(one_hot_targets(n_out, lead[0] if lead else None)).astype(dtype)
    return draw(class_indices(n_out, lead[0] if lead else None))


@st.composite
def stacks(draw, *, min_depth=1, max_depth=4, max_width=8, max_batch=5, kinds=KINDS,
           losses=tuple(LOSSES), hidden=None, dtype=np.float64, weight_decay=None,
           kink_margin: float = 1e-3):
    """``(net, x, y)``: a random stack of layers with a matching input and target.

    ``min_depth``..``max_depth`` dense layers; each but the last opens a block of one of
    ``kinds`` (``"dense"``, ``"in_out"`` weights, ``"batchnorm"`` (layer norm when the batch is
    below 2), ``"layernorm"``, ``"residual"`` (a block around dense, activation and maybe layer
    norm), ``"dropout"`` (with a drawn or a given mask)), with an activation drawn per block
    (or ``hidden``); batch norm is drawn biased or unbiased, and ``"embedding"`` may start the
    stack with a lookup of integer ids and a flatten. The last dense
    layer ends in the output each loss needs; the loss has a drawn scale (1 or 1/2) and
    reduction, and ``weight_decay`` is drawn (0 or 0.01) unless given. Draws within
    ``kink_margin`` of a ReLU or hinge kink are rejected.
    """
    batch = draw(st.integers(0, max_batch))
    width = draw(st.integers(1, max_width))
    n0, layers, vocab = (width,), [], 0
    if "embedding" in kinds and draw(st.booleans()):  # token ids, looked up and flattened
        vocab, dim = draw(st.integers(2, 6)), draw(st.integers(1, 3))
        n0 = (draw(st.integers(1, 3)),)
        layers, width = [Embedding(vocab, dim), Flatten()], n0[0] * dim
    blocks = [k for k in kinds if k != "embedding"] or ["dense"]
    for _ in range(draw(st.integers(min_depth, max_depth)) - 1):
        act = draw(activations()) if hidden is None else hidden
        block, width = _hidden_block(draw, draw(st.sampled_from(blocks)), width, max_width,
                                     act, batch)
        layers += block
    output, loss = draw(st.sampled_from(_pairs(losses)))
    n_out = draw(st.integers(2 if loss in ("cross_entropy", "nll") else 1, max_width))
    layers.append(Dense(n_out, bias=draw(st.booleans())))
    if output != "identity" or loss == "squared_error":
        layers.append(Softmax() if output == "softmax" else Activation(output))
    scaled = Loss(loss, scale=draw(st.sampled_from([1.0, 0.5])),
                  reduction=draw(st.sampled_from(["mean", "sum"])))
    decay = draw(st.sampled_from([0.0, 0.01])) if weight_decay is None else weight_decay
    seed = draw(st.integers(0, 2**32 - 1))
    net = Network.stack(layers, loss=scaled, input_shape=n0, seed=seed, dtype=dtype,
                        weight_decay=decay)
    rng = np.random.default_rng(seed + 1)
    lead = (batch,) if batch else ()
    x = (rng.integers(vocab, size=lead + n0) if vocab else
         rng.normal(size=lead + n0).astype(dtype))
    y = _targets(draw, rng, loss, lead, n_out, dtype)
    if kink_margin:
        assume(not near_kink(net.forward(x), loss, y, kink_margin))
    return net, x, y
