"""Structured second order through residual blocks: the inner layers' parts at their own
places (layer 2.1, 2.3.2), against central differences of the gradient, the dense method,
Hessian-vector products and torch.func.hessian; and an embedding that reads the data after a
parameter-free layer."""

import numpy as np
import pytest
from _hessians import assert_blocks_agree, assert_matches_torch, draw_data

import tensorcalc as tc

CASES = {
    "dense block": lambda: tc.Network.stack(
        [tc.Dense(4), tc.Residual([tc.Dense(4), "tanh"]), tc.Dense(2)], input_shape=(3,),
        loss="squared_error", seed=1),
    "block first, softmax output": lambda: tc.Network.stack(
        [tc.Residual([tc.Dense(3), "sigmoid", tc.Dense(3)]), "tanh", tc.Dense(2), "softmax"],
        input_shape=(3,), loss="cross_entropy", seed=3),
    "nested blocks, decay": lambda: tc.Network.stack(
        [tc.Dense(4), tc.Residual([tc.Dense(4), "tanh", tc.Residual([tc.Dense(4), "gelu"])]),
         "sigmoid", tc.Dense(2)], input_shape=(3,), loss="squared_error", seed=4,
        weight_decay=0.05),
    "convolutions": lambda: tc.Network.stack(
        [tc.Conv2d(2, 3, padding=1), tc.Residual([tc.Conv2d(2, 3, padding=1), "tanh"]),
         tc.Flatten(), tc.Dense(2)], input_shape=(1, 3, 3), loss="nll", seed=5),
}


def _agree(net, x, y, rng):
    assert_blocks_agree(net, x, y, rng, dense_rtol=1e-11, dense_atol=1e-13)


@pytest.mark.parametrize("batch", [0, 3])
@pytest.mark.parametrize("name", CASES)
def test_blocks_through_residual_blocks(name, batch):
    rng = np.random.default_rng(2)
    net = CASES[name]()
    _agree(net, *draw_data(net, batch, rng), rng)


def test_inner_parts_are_named_by_their_place():
    net = CASES["nested blocks, decay"]()
    x, y = draw_data(net, 3, np.random.default_rng(3))
    parts = tc.hessian_parts(net, x, y, "W1")
    assert list(parts) == ["Gauss-Newton", "curvature of layer 2.2", "curvature of layer 2.3.2",
                           "curvature of layer 3", "weight decay"]
    cross = tc.hessian_parts(net, x, y, ("W3", "W1"))  # W3 is the nested block's dense layer
    assert "bilinear of layer 2.3.1" in cross


def test_an_embedding_after_a_flatten_reads_the_data():
    net = tc.Network.stack([tc.Flatten(), tc.Embedding(5, 2), tc.Flatten(), tc.Dense(2)],
                           input_shape=(3,), loss="squared_error", seed=6)
    rng = np.random.default_rng(4)
    x, y = rng.integers(5, size=(4, 3)), rng.normal(size=(4, 2))
    _agree(net, x, y, rng)


def test_against_torch_func_hessian():
    torch = pytest.importorskip("torch")
    net = CASES["nested blocks, decay"]()
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    names = list(net.params)

    def loss(*ps):
        p = dict(zip(names, ps))
        a = torch.tensor(x) @ p["W1"].T + p["b1"]
        h = torch.tanh(a @ p["W2"].T + p["b2"])
        h = h + torch.nn.functional.gelu(h @ p["W3"].T + p["b3"])
        a = torch.sigmoid(a + h)
        z = a @ p["W4"].T + p["b4"]
        decay = sum((p[k] ** 2).sum() for k in names if k.startswith("W"))
        return ((z - torch.tensor(y)) ** 2).sum() / 5 + 0.05 * decay

    assert_matches_torch(torch, net, x, y, loss)
