"""Second order: Hessian blocks against central differences of the gradient and against
torch.func.hessian, their symmetry, the parts (Gauss-Newton against J^T H J built densely),
Hessian- and Gauss-Newton-vector products against the blocks, and diagonals without blocks."""

import numpy as np
import pytest
from _hessians import assert_matches_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorcalc as tc

HIDDEN = ["tanh", "sigmoid", "softplus", "gelu", "silu", "elu", "gelu_tanh", "identity"]
PAIRS = [("softmax", "cross_entropy"), ("identity", "nll"), ("sigmoid", "squared_error"),
         ("identity", "squared_error"), ("sigmoid", "binary_cross_entropy"),
         ("softmax", "squared_error"), ("tanh", "squared_error")]


@st.composite
def dense_cases(draw, pairs=PAIRS, max_width=4, max_depth=3):
    sizes = draw(st.lists(st.integers(1, max_width), min_size=2, max_size=max_depth + 1))
    output, loss = draw(st.sampled_from(pairs))
    if loss in ("cross_entropy", "nll"):
        sizes[-1] = max(sizes[-1], 2)
    hidden = draw(st.sampled_from(HIDDEN))
    seed = draw(st.integers(0, 1000))
    net = tc.Network.random(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    batch = draw(st.integers(0, 3))
    rng = np.random.default_rng(seed)
    lead = (batch,) if batch else ()
    x = rng.normal(size=lead + (sizes[0],))
    if loss in ("cross_entropy", "nll"):
        y = rng.integers(sizes[-1], size=lead) if lead else int(rng.integers(sizes[-1]))
    else:
        y = rng.uniform(size=lead + (sizes[-1],))
    return net, x, y


def _blocks_close(a, b, rtol, atol):
    for key in a:
        np.testing.assert_allclose(a[key].dense(), b[key].dense(), rtol=rtol, atol=atol,
                                   err_msg=str(key))


@settings(max_examples=40, deadline=None)
@given(dense_cases())
def test_every_block_matches_central_differences_of_the_gradient(case):
    net, x, y = case
    full = tc.hessian(net, x, y)
    numeric = tc.hessian(net, x, y, method="numeric")
    scale = max(1.0, max(float(np.abs(b.dense()).max()) for b in full.values()))
    _blocks_close(full, numeric, rtol=1e-5, atol=1e-6 * scale)


@settings(max_examples=15, deadline=None)
@given(dense_cases(max_width=3))
def test_dense_method_equals_full(case):
    net, x, y = case
    _blocks_close(tc.hessian(net, x, y), tc.hessian(net, x, y, method="dense"), 1e-12, 1e-14)


@settings(max_examples=25, deadline=None)
@given(dense_cases())
def test_blocks_are_symmetric(case):
    net, x, y = case
    H = tc.hessian(net, x, y)
    for (p, q), block in H.items():
        k = net.params[p].ndim
        swapped = np.moveaxis(H[q, p].dense(), tuple(range(net.params[q].ndim)),
                              tuple(range(k, k + net.params[q].ndim)))
        np.testing.assert_allclose(block.dense(), swapped, rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(dense_cases(), st.integers(0, 2**31 - 1))
def test_hvp_and_ggn_vp_are_the_blocks_times_v(case, seed):
    net, x, y = case
    rng = np.random.default_rng(seed)
    v = {k: rng.normal(size=p.shape) for k, p in net.params.items()}
    H, G = tc.hessian(net, x, y), tc.gauss_newton(net, x, y)
    hv, gv = tc.hvp(net, x, y, v), tc.ggn_vp(net, x, y, v)
    for p in net.params:
        want_h = sum(np.tensordot(H[p, q].dense(), v[q], axes=v[q].ndim) for q in net.params)
        want_g = sum(np.tensordot(G[p, q].dense(), v[q], axes=v[q].ndim) for q in net.params)
        np.testing.assert_allclose(hv[p], want_h, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gv[p], want_g, rtol=1e-10, atol=1e-12)


def _dense_jacobian(net, x, p):
    """d(logits)/d(p) by central differences: an independent J."""
    def logits(v):
        return net.with_param(p, v).forward(x).logits
    return tc.numerical_derivative(logits, net.params[p]).dense()


def test_gauss_newton_is_j_transpose_h_j_built_densely():
    net = tc.Network.random([3, 4, 3], hidden="tanh", output="softmax", loss="cross_entropy",
                            seed=5)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 3)), rng.integers(3, size=4)
    p = net.forward(x).output
    H = np.zeros((4, 3, 4, 3))  # the cross-entropy-after-softmax Hessian in the logits, mean
    for n in range(4):
        H[n, :, n, :] = (np.diag(p[n]) - np.outer(p[n], p[n])) / 4
    for a, b in [("W1", "W1"), ("W1", "b2"), ("W2", "W1")]:
        Ja, Jb = _dense_jacobian(net, x, a), _dense_jacobian(net, x, b)
        want = np.tensordot(np.tensordot(Ja, H, axes=([0, 1], [0, 1])), Jb,
                            axes=([-2, -1], [0, 1]))
        got = tc.gauss_newton(net, x, y, wrt=(a, b)).dense()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_parts_are_named_and_add_up():
    net = tc.Network.random([3, 4, 5, 2], hidden="tanh", output="softmax",
                            loss="cross_entropy", seed=1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.integers(2, size=5)
    parts = tc.hessian_parts(net, x, y, ("W2", "W1"))
    assert list(parts) == ["Gauss-Newton", "curvature of layer 4", "bilinear of layer 3"]
    total = sum(d.dense() for d in parts.values())
    np.testing.assert_allclose(total, tc.hessian(net, x, y, ("W2", "W1")).dense(), rtol=1e-13)
    assert list(tc.hessian_parts(net, x, y, ("W3", "W1"))) == ["Gauss-Newton",
                                                                "bilinear of layer 5"]
    assert list(tc.hessian_parts(net, x, y, "W1")) == ["Gauss-Newton", "curvature of layer 2",
                                                        "curvature of layer 4"]


def test_diagonal_without_the_block():
    net = tc.Network.random([4, 6, 3], hidden="softplus", output="softmax",
                            loss="cross_entropy", seed=3)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 4)), rng.integers(3, size=7)
    for p, value in net.params.items():
        block = tc.hessian(net, x, y, wrt=p)
        k = value.size
        np.testing.assert_allclose(block.diagonal(), np.diag(block.dense().reshape(k, k))
                                   .reshape(value.shape), rtol=1e-12, atol=1e-15)


def test_weight_decay_adds_2c_on_weight_blocks():
    base = tc.Network.random([3, 4, 2], hidden="tanh", output="softmax", loss="cross_entropy",
                             seed=0)
    decayed = tc.Network.stack(list(base.layers), loss="cross_entropy", input_shape=(3,),
                               params=dict(base.params), weight_decay=0.1)
    x, y = np.ones((2, 3)), np.array([0, 1])
    diff = tc.hessian(decayed, x, y, "W1").dense() - tc.hessian(base, x, y, "W1").dense()
    np.testing.assert_allclose(diff.reshape(12, 12), 0.2 * np.eye(12), atol=1e-14)
    np.testing.assert_allclose(tc.hessian(decayed, x, y, "b1").dense(),
                               tc.hessian(base, x, y, "b1").dense(), atol=1e-14)


def test_a_block_above_the_dense_limit_is_refused_and_hvp_still_works():
    net = tc.Network.random([30, 40, 3], hidden="tanh", output="softmax",
                            loss="cross_entropy", seed=0)
    x, y = np.ones(30), 1
    old = tc.set_dense_limit(1 << 16)
    try:
        H = tc.hessian(net, x, y, "W1")  # structured: nothing is built yet
        with pytest.raises(tc.MemoryLimitError, match="11,520,000"):
            H.dense()
        hv = tc.hvp(net, x, y, {"W1": np.ones((40, 30))})
        assert hv["W1"].shape == (40, 30)
        assert H.diagonal().shape == (40, 30)
    finally:
        tc.set_dense_limit(old)


def test_layers_without_structured_parts_are_named_by_hessian_parts():
    """A layer kind written by a user (tests/_custom_layer.py) has no structured parts:
    hessian_parts names it, and its blocks come from exact products (complex step)."""
    from _custom_layer import scaled_network

    net = scaled_network()
    x, y = np.arange(6.0).reshape(3, 2) / 6, np.zeros((3, 2))
    with pytest.raises(tc.TensorcalcError, match=r"layer 2 \(Scale\) has no structured"):
        tc.hessian_parts(net, x, y, "W1")
    H, N = tc.hessian(net, x, y), tc.hessian(net, x, y, method="numeric")
    for key in H:
        np.testing.assert_allclose(H[key].dense(), N[key].dense(), rtol=1e-6, atol=1e-8)


def test_against_torch_func_hessian():
    torch = pytest.importorskip("torch")
    net = tc.Network.random([5, 6, 4, 3], hidden="tanh", output="softmax",
                            loss="cross_entropy", seed=9)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 5)), rng.integers(3, size=8)
    names = list(net.params)

    def loss(*ps):
        d, a = dict(zip(names, ps)), torch.tensor(x)
        for layer in (1, 2):
            a = torch.tanh(a @ d[f"W{layer}"].T + d[f"b{layer}"])
        z = a @ d["W3"].T + d["b3"]
        return -torch.log_softmax(z, -1)[torch.arange(8), torch.tensor(y)].mean()

    assert_matches_torch(torch, net, x, y, loss)


CNN_CASES = {
    "conv, max pool, conv": lambda rng: (tc.Network.stack(
        [tc.Conv2d(2, 3, padding=1), "tanh", tc.MaxPool2d(2), tc.Conv2d(3, 2), "softplus",
         tc.Flatten(), tc.Dense(3), "softmax"], input_shape=(1, 6, 6), loss="cross_entropy",
        seed=1), rng.normal(size=(2, 1, 6, 6)), np.array([0, 2])),
    "embedding, dropout": lambda rng: (tc.Network.stack(
        [tc.Embedding(7, 2), tc.Flatten(), tc.Dense(4), "tanh", tc.Dropout(0.3), tc.Dense(3)],
        input_shape=(3,), loss="nll", seed=2), rng.integers(7, size=(4, 3)),
        rng.integers(3, size=4)),
    "conv1d, avg pool, in_out, decay": lambda rng: (tc.Network.stack(
        [tc.Conv1d(2, 3), "sigmoid", tc.AvgPool1d(2), tc.Flatten(),
         tc.Dense(2, weights="in_out"), "sigmoid"], input_shape=(1, 8), loss="squared_error",
        seed=3, weight_decay=0.05), rng.normal(size=(3, 1, 8)), rng.uniform(size=(3, 2))),
}


@pytest.mark.parametrize("name", CNN_CASES)
def test_convolutions_pooling_and_embeddings(name):
    rng = np.random.default_rng(7)
    net, x, y = CNN_CASES[name](rng)
    H, N = tc.hessian(net, x, y), tc.hessian(net, x, y, method="numeric")
    scale = max(1.0, max(float(np.abs(b.dense()).max()) for b in H.values()))
    _blocks_close(H, N, rtol=1e-5, atol=1e-7 * scale)
    v = {k: rng.normal(size=p.shape) for k, p in net.params.items()}
    hv, gv, G = tc.hvp(net, x, y, v), tc.ggn_vp(net, x, y, v), tc.gauss_newton(net, x, y)
    for p in net.params:
        want = sum(np.tensordot(H[p, q].dense(), v[q], axes=v[q].ndim) for q in net.params)
        np.testing.assert_allclose(hv[p], want, rtol=1e-10, atol=1e-12)
        want = sum(np.tensordot(G[p, q].dense(), v[q], axes=v[q].ndim) for q in net.params)
        np.testing.assert_allclose(gv[p], want, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_drawn_stacks_against_central_differences(data):
    from tensorcalc import strategies as tcs

    net, x, y = data.draw(tcs.stacks(max_depth=3, max_width=4, max_batch=3))  # every kind
    full, numeric = tc.hessian(net, x, y), tc.hessian(net, x, y, method="numeric")
    scale = max(1.0, max(float(np.abs(b.dense()).max()) for b in full.values()))
    _blocks_close(full, numeric, rtol=1e-4, atol=1e-6 * scale)


def _torch_nll(torch, names, x, y, f):
    """The NLL of a dense stack with activation ``f`` as a function of its parameters."""
    depth = len(names) // 2

    def loss(*ps):
        p, a = dict(zip(names, ps)), torch.tensor(x)
        for layer in range(1, depth):
            a = f(a @ p[f"W{layer}"].T + p[f"b{layer}"])
        z = a @ p[f"W{depth}"].T + p[f"b{depth}"]
        return -torch.log_softmax(z, -1)[torch.arange(len(y)), torch.tensor(y)].mean()

    return loss


def test_dense_networks_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    acts = {"tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "softplus": torch.nn.functional.softplus}
    for hidden, sizes in (("tanh", [4, 5, 3]), ("sigmoid", [3, 4, 4, 2]), ("softplus", [2, 3, 2])):
        net = tc.Network.random(sizes, hidden=hidden, output="identity", loss="nll", seed=1)
        x, y = rng.normal(size=(5, sizes[0])), rng.integers(sizes[-1], size=5)
        names = list(net.params)
        loss = _torch_nll(torch, names, x, y, acts[hidden])
        assert_matches_torch(torch, net, x, y, loss, what=hidden)


RESIDUAL = {
    "layer norm, residual": lambda: tc.Network.stack(
        [tc.Dense(4), tc.LayerNorm(), tc.Residual([tc.Dense(4), "softplus", tc.LayerNorm()]),
         tc.Dense(2)], input_shape=(3,), loss="squared_error", seed=2),
    "group norm, residual, batch norm 2d": lambda: tc.Network.stack(
        [tc.Conv2d(4, 3, padding=1), tc.GroupNorm(2), tc.Residual([tc.Conv2d(4, 3, padding=1),
                                                                  "gelu"]),
         tc.BatchNorm2d(), tc.Flatten(), tc.Dense(2)], input_shape=(1, 4, 4), loss="nll",
        seed=4),
    "embedding, residual, unbiased batch norm": lambda: tc.Network.stack(
        [tc.Embedding(6, 2), tc.Flatten(), tc.Dense(4), tc.Residual([tc.Dense(4), "tanh"]),
         tc.BatchNorm(unbiased=True), tc.Dense(3), "softmax"], input_shape=(3,),
        loss="cross_entropy", seed=5),
}


def _data(net, rng):
    x = (rng.integers(6, size=(5, 3)) if isinstance(net.layers[0], tc.Embedding)
         else rng.normal(size=(5,) + net.input_shape))
    out = net(x)
    y = (rng.integers(out.shape[-1], size=5) if net.loss_fn.name in ("nll", "cross_entropy")
         else rng.normal(size=out.shape))
    return x, y


@pytest.mark.parametrize("name", RESIDUAL)
def test_residual_blocks_with_norms_and_embeddings(name):
    rng = np.random.default_rng(11)
    net = RESIDUAL[name]()
    x, y = _data(net, rng)
    H, N = tc.hessian(net, x, y), tc.hessian(net, x, y, method="numeric")
    scale = max(1.0, max(float(np.abs(b.dense()).max()) for b in H.values()))
    _blocks_close(H, N, rtol=1e-5, atol=1e-6 * scale)
    for (p, q), block in H.items():  # symmetric
        k = net.params[p].ndim
        swapped = np.moveaxis(H[q, p].dense(), tuple(range(net.params[q].ndim)),
                              tuple(range(k, k + net.params[q].ndim)))
        np.testing.assert_allclose(block.dense(), swapped, rtol=1e-9, atol=1e-12 * scale)
    first = next(iter(net.params))
    parts = tc.hessian_parts(net, x, y, first)  # inner layers named by their place: layer 3.2
    np.testing.assert_allclose(parts.total().dense(), H[first, first].dense(), rtol=1e-12,
                               atol=1e-14)
    G = tc.gauss_newton(net, x, y)
    names = list(net.params)
    sizes = [net.params[p].size for p in names]
    flat = np.block([[G[p, q].dense().reshape(sizes[i], sizes[j]) for j, q in enumerate(names)]
                     for i, p in enumerate(names)])
    assert np.linalg.eigvalsh((flat + flat.T) / 2).min() > -1e-9 * scale  # PSD


def test_a_layer_norm_residual_network_against_torch():
    torch = pytest.importorskip("torch")
    net = RESIDUAL["layer norm, residual"]()
    rng = np.random.default_rng(1)
    x, y = _data(net, rng)
    names = list(net.params)

    def layer_norm(a, g, b):  # written out: torch's fused layer_norm is not used here
        mu = a.mean(-1, keepdim=True)
        return g * (a - mu) / torch.sqrt(((a - mu) ** 2).mean(-1, keepdim=True) + 1e-5) + b

    def loss(*ps):
        p, a = dict(zip(names, ps)), torch.tensor(x)
        a = layer_norm(a @ p["W1"].T + p["b1"], p["gamma2"], p["beta2"])
        h = torch.nn.functional.softplus(a @ p["W3"].T + p["b3"])
        a = a + layer_norm(h, p["gamma4"], p["beta4"])
        z = a @ p["W5"].T + p["b5"]
        return torch.sum((z - torch.tensor(y)) ** 2) / len(y)

    assert_matches_torch(torch, net, x, y, loss, atol=1e-11)


def test_a_block_is_named_as_a_second_derivative_everywhere_it_is_shown():
    net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    H = tc.hessian(net, np.ones(3), np.zeros(2), wrt=("W1", "W2"))
    assert H.name == "d2C/dW^1 dW^2"
    assert "d2C/dW^1 dW^2" in repr(H) and "ddC" not in repr(H)
    assert "ddC" not in H._repr_html_()
    assert H.index_notation().startswith("d2C/dW^1_jl dW^2_im = ")
    assert H.latex().startswith(r"\frac{\partial^2 C}{\partial W^{1}_{jl} \partial W^{2}_{im}}")
    assert tc.backprop(net, np.ones(3), np.zeros(2))["W1"].name == "dC/dW^1"
    pytest.importorskip("matplotlib")
    title = tc.plot(H).axes[0].get_title()
    assert title.startswith("d2C/dW^1 dW^2: matrix-by-matrix (4, 3, 2, 4)")
