"""Hypothesis strategies for property tests of derivatives and networks.

Install with the ``test`` extra (``pip install "tensorcalc[test]"``). Use them in your own tests:

>>> from hypothesis import given
>>> import tensorcalc as tc
>>> from tensorcalc import strategies as tcs
>>> @given(tcs.chains(length=3))
... def test_chain_is_associative(ds):
...     a, b, c = ds
...     assert abs((tc.chain(a, b) @ c).dense() - (a @ tc.chain(b, c)).dense()).max() < 1e-9
>>> test_chain_is_associative()

Inside a property test, :func:`assert_gradients_match` checks a hand-written backprop against
the full tensor chain and :func:`assert_jacobian_matches` a hand-written Jacobian against central
differences; both fail with the worst entry and ``note()`` what failed. The profile
``"tensorcalc-ci"`` (derandomized, no deadline) is registered on import:
``settings.load_profile(CI_PROFILE)``.
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("tensorcalc.strategies needs hypothesis: pip install hypothesis "
                      "(the project's 'test' extra)") from err

from .core.derivative import Derivative
from .core.term import Factor
from .core.labels import fresh_labels
from .testing import assert_gradients_match, assert_jacobian_matches, gradients_match

#: Name of the registered CI profile: derandomized, no deadline, too-slow check off.
CI_PROFILE = "tensorcalc-ci"
settings.register_profile(CI_PROFILE, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])

__all__ = [
    "CI_PROFILE", "activations", "arrays", "assert_gradients_match", "assert_jacobian_matches",
    "chains", "class_indices", "derivatives", "gradients_match", "layer_sizes", "losses",
    "networks", "one_hot_targets", "outputs", "pairings", "shapes",
]


def shapes(max_rank: int = 2, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes of rank 0..``max_rank`` with sides 1..``max_side``."""
    return st.lists(st.integers(1, max_side), max_size=max_rank).map(tuple)


def arrays(shape, dtype=np.float64, *, bound: float = 2.0, off_kink: float = 0.0):
    """Finite, bounded float arrays of ``shape``; with ``off_kink > 0`` every entry has
    ``|x| >= off_kink`` (keeps ReLU and leaky ReLU away from their kink at 0)."""
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    lo = max(off_kink, 0.0)
    magnitudes = st.floats(lo, bound, allow_nan=False, allow_infinity=False, width=64)
    entry = magnitudes if off_kink > 0 else st.floats(-bound, bound, width=64)
    signs = st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)
    values = st.lists(entry, min_size=n, max_size=n)
    return st.tuples(values, signs).map(
        lambda vs: (np.asarray(vs[0], dtype=np.float64)
                    * (np.asarray(vs[1]) if off_kink > 0 else 1.0)).reshape(shape).astype(dtype)
    )


@st.composite
def derivatives(draw, out_shape=None, in_shape=None, *, of: str = "y", wrt: str = "x"):
    """Random :class:`Derivative` networks of the given shapes (drawn when not given).

    The structure varies: dense factors, Kronecker deltas (an input label reusing an output label
    of the same size), several factors, and axes no factor carries (constant along them).
    """
    out_shape = draw(shapes()) if out_shape is None else tuple(out_shape)
    in_shape = draw(shapes()) if in_shape is None else tuple(in_shape)
    labels = fresh_labels(len(out_shape) + len(in_shape))
    out_l = labels[: len(out_shape)]
    sizes = dict(zip(out_l, out_shape))
    in_l = []
    for k, n in enumerate(in_shape):
        free = [c for c in out_l if sizes[c] == n and c not in in_l]
        if free and draw(st.booleans()):
            in_l.append(draw(st.sampled_from(free)))
        else:
            c = labels[len(out_shape) + k]
            sizes[c] = n
            in_l.append(c)
    distinct = list(dict.fromkeys(out_l + in_l))
    factors = []
    for k in range(draw(st.integers(0, 3))):
        subset = draw(st.lists(st.sampled_from(distinct), unique=True, max_size=len(distinct))) \
            if distinct else []
        shape = tuple(sizes[c] for c in subset)
        arr = draw(arrays(shape, bound=1.5))
        factors.append(Factor(arr, "".join(subset), f"F{k}"))
    return Derivative(tuple(factors), "".join(out_l), "".join(in_l), sizes, of, wrt)


@st.composite
def chains(draw, length: int = 3):
    """A list of ``length`` derivatives that chain: each one's input shape is the next one's
    output shape (outermost first, as :func:`tensorcalc.chain` takes them)."""
    shape_list = [draw(shapes()) for _ in range(length + 1)]
    return [
        draw(derivatives(shape_list[k], shape_list[k + 1], of=f"y{k}", wrt=f"y{k + 1}"))
        for k in range(length)
    ]


# ---------------------------------------------------------------- networks
def activations() -> st.SearchStrategy[str]:
    """Names of hidden activations."""
    from .layers import ACTIVATIONS

    return st.sampled_from(list(ACTIVATIONS))


def outputs() -> st.SearchStrategy[str]:
    """Names of output activations (every activation, and softmax)."""
    from .network import OUTPUTS

    return st.sampled_from(list(OUTPUTS))


def losses() -> st.SearchStrategy[str]:
    """Names of losses."""
    from .layers import LOSSES

    return st.sampled_from(list(LOSSES))


def pairings() -> st.SearchStrategy[tuple[str, str]]:
    """Valid (output activation, loss) pairs: squared error after any output, cross-entropy
    after softmax, NLL on the logits of a linear last layer."""
    from .network import OUTPUTS

    pairs = [(o, "squared_error") for o in OUTPUTS]
    pairs += [("softmax", "cross_entropy"), ("identity", "nll")]
    return st.sampled_from(pairs)


def layer_sizes(min_depth: int = 1, max_depth: int = 4, max_width: int = 16):
    """Layer widths ``[n_0, ..., n_L]`` with depth L in the given range."""
    return st.lists(st.integers(1, max_width), min_size=min_depth + 1, max_size=max_depth + 1)


def class_indices(n_classes: int, batch: int | None) -> st.SearchStrategy:
    """A class index (``batch=None``) or an (N,) array of them."""
    if batch is None:
        return st.integers(0, n_classes - 1)
    return st.lists(st.integers(0, n_classes - 1), min_size=batch, max_size=batch).map(np.array)


def one_hot_targets(n_classes: int, batch: int | None) -> st.SearchStrategy[np.ndarray]:
    """One-hot target rows of width ``n_classes``."""
    return class_indices(n_classes, batch).map(lambda c: np.eye(n_classes)[c])


@st.composite
def networks(draw, *, min_depth=1, max_depth=4, max_width=16, max_batch=8, hidden=None,
             pairing=None, bias=None, dtype=np.float64, kink_margin: float = 1e-3):
    """``(net, x, y)``: a random :class:`~tensorcalc.Network` with a matching input and target.

    Structure (depth, widths, activations, output/loss pairing, bias, batch) is drawn so that
    hypothesis can shrink it; weights and inputs come from a drawn seed. ``batch`` 0 means one
    sample as a vector. For ReLU-like hidden layers, draws whose pre-activations come within
    ``kink_margin`` of the kink at 0 are rejected, so finite differences stay valid.
    """
    from hypothesis import assume

    from .network import Network

    sizes = draw(layer_sizes(min_depth, max_depth, max_width))
    hidden = draw(activations()) if hidden is None else hidden
    output, loss = draw(pairings()) if pairing is None else pairing
    bias = draw(st.booleans()) if bias is None else bias
    batch = draw(st.integers(0, max_batch))
    seed = draw(st.integers(0, 2**32 - 1))
    net = Network.random(sizes, hidden=hidden, output=output, loss=loss, bias=bias, seed=seed,
                         dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    lead = (batch,) if batch else ()
    x = rng.normal(size=lead + (sizes[0],)).astype(dtype)
    if loss == "squared_error":
        y = rng.uniform(size=lead + (sizes[-1],)).astype(dtype)
    elif draw(st.booleans()):
        y = draw(class_indices(sizes[-1], batch or None))
    else:
        y = draw(one_hot_targets(sizes[-1], batch or None)).astype(dtype)
    if kink_margin and hidden in ("relu", "leaky_relu"):
        fw = net.forward(x)
        assume(all(np.min(np.abs(z)) > kink_margin for z in fw.z[1:-1]))
    return net, x, y
