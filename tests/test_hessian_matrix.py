"""The whole Hessian as one matrix (``tc.hessian(net, x, y).matrix()``): against central
differences of the gradient, against torch.func.hessian, on the stacked Gauss-Newton route
and on the block-assembly fallback; the mapping's laziness and the dense limit."""

import numpy as np
import pytest
from _hessians import torch_hessian
from hypothesis import given, settings
from test_second_order import CNN_CASES, RESIDUAL, _data, dense_cases

import tensorcalc as tc
from tensorcalc.second.stacked import stacked_matrix


def _numeric_matrix(net, x, y, h=1e-5):
    """Central differences of the flattened gradient, one column per parameter entry."""
    names = list(net.params)

    def flat_gradient(theta):
        params, start = {}, 0
        for k in names:
            size = net.params[k].size
            params[k] = theta[start:start + size].reshape(net.params[k].shape)
            start += size
        grads = tc.backprop(net.with_params(params), x, y, "shortcut")
        return np.concatenate([grads[k].dense().ravel() for k in names])

    theta = np.concatenate([net.params[k].ravel() for k in names])
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        cols.append((flat_gradient(theta + e) - flat_gradient(theta - e)) / (2 * h))
    return np.stack(cols, axis=1)


def _check(net, x, y, rtol=1e-5):
    M = tc.hessian(net, x, y).matrix()
    N = _numeric_matrix(net, x, y)
    scale = max(1.0, float(np.abs(N).max()))
    np.testing.assert_allclose(M, N, rtol=rtol, atol=1e-6 * scale)
    np.testing.assert_allclose(M, M.T, rtol=1e-10, atol=1e-13 * scale)
    return M


@settings(max_examples=30, deadline=None)
@given(dense_cases())
def test_matrix_matches_central_differences(case):
    _check(*case)


def test_stacked_route_and_block_route_agree():
    """P = 26 parameters: batch 2 (N K = 4 <= P) takes the stacked route, batch 20
    (N K = 40 > P) assembles the blocks; both equal the numeric matrix."""
    net = tc.Network.stack([tc.Dense(4), "softplus", tc.Dense(2), "sigmoid"], input_shape=(3,),
                           loss="squared_error", seed=3, weight_decay=0.1)
    rng = np.random.default_rng(0)
    for batch in (2, 20):
        x, y = rng.normal(size=(batch, 3)), rng.uniform(size=(batch, 2))
        M = _check(net, x, y)
        H = tc.hessian(net, x, y)
        stacked = stacked_matrix(H._parts, list(net.params))
        assert (stacked is None) == (batch == 20)
        blocks = np.block([[H[p, q].dense().reshape(net.params[p].size, net.params[q].size)
                            for q in net.params] for p in net.params])
        np.testing.assert_allclose(M, blocks, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(CNN_CASES) + list(RESIDUAL)[:2])
def test_convolutions_embeddings_and_norms(name):
    rng = np.random.default_rng(7)
    if name in CNN_CASES:
        net, x, y = CNN_CASES[name](rng)
    else:
        net = RESIDUAL[name]()
        x, y = _data(net, rng)
    _check(net, x, y)


def test_against_torch_func_hessian():
    torch = pytest.importorskip("torch")
    net = tc.Network.random([5, 6, 3], hidden="sigmoid", output="softmax",
                            loss="cross_entropy", seed=9)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 5)), rng.integers(3, size=4)
    names = list(net.params)

    def loss(*ps):
        p = dict(zip(names, ps))
        a = torch.sigmoid(torch.tensor(x) @ p["W1"].T + p["b1"])
        z = a @ p["W2"].T + p["b2"]
        return -torch.log_softmax(z, -1)[torch.arange(4), torch.tensor(y)].mean()

    ref = torch_hessian(torch, net, loss)
    sizes = [net.params[k].size for k in names]
    want = np.block([[ref[i][j].reshape(sizes[i], sizes[j]).numpy() for j in range(len(names))]
                     for i in range(len(names))])
    np.testing.assert_allclose(tc.hessian(net, x, y).matrix(), want, rtol=1e-9, atol=1e-12)


def test_blocks_are_built_when_read_and_unknown_pairs_are_refused():
    net = tc.Network.random([3, 4, 2], seed=0)
    H = tc.hessian(net, np.ones((2, 3)), np.zeros((2, 2)))
    assert len(H) == 16 and list(H)[:3] == [("W1", "W1"), ("W1", "b1"), ("W1", "W2")]
    assert H._blocks == {}
    assert H["W2", "W1"].shape == (2, 4, 4, 3)
    assert set(H._blocks) == {("W2", "W1")}
    with pytest.raises(KeyError):
        H["W1", "W9"]
    assert "16 blocks of 4 parameters" in repr(H) and H.size == 26


def test_the_matrix_above_the_dense_limit_is_refused_before_it_is_built():
    net = tc.Network.random([3, 4, 2], seed=0)
    H = tc.hessian(net, np.ones(3), np.zeros(2))
    old = tc.set_dense_limit(26 * 26 * 8 - 1)
    try:
        with pytest.raises(tc.MemoryLimitError, match="whole Hessian of 26 parameters"):
            H.matrix()
        assert H._blocks == {}
    finally:
        tc.set_dense_limit(old)
