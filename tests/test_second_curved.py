"""Structured second order of a hidden softmax and of the norms (layer norm, batch norm with
either variance, batch norm over channels, group norm): each norm's curvature map and
gamma-by-input term against central differences of the layer's own backward; Hessian blocks of
networks with them against central differences of the gradient, the dense method,
Hessian-vector products (which apply the same curvature maps to the tangents) and
torch.func.hessian of a written-out layer norm."""

import numpy as np
import pytest
from _hessians import assert_blocks_agree, assert_matches_torch, draw_data

import tensorcalc as tc
from tensorcalc.layers import norm_second

NORMS = {  # (layer, input shape, batched)
    "layer norm": (lambda: tc.LayerNorm(), (3, 5), True),
    "layer norm, one sample": (lambda: tc.LayerNorm(), (5,), False),
    "batch norm": (lambda: tc.BatchNorm(), (4, 3), True),
    "batch norm, Bessel": (lambda: tc.BatchNorm(unbiased=True), (4, 3), True),
    "batch norm over channels": (lambda: tc.BatchNorm2d(), (2, 3, 2, 2), True),
    "batch norm over channels, 1-d": (lambda: tc.BatchNorm2d(), (3, 2, 3), True),
    "group norm": (lambda: tc.GroupNorm(2), (2, 4, 2, 2), True),
    "group norm, one sample": (lambda: tc.GroupNorm(3), (6, 2), False),
    "group norm on vectors": (lambda: tc.GroupNorm(2), (3, 4), True),
}


def _central(f, x, h=1e-6):
    """d f(x) / dx by central differences, shape f(x).shape + x.shape."""
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, axis=-1).reshape(f(x).shape + x.shape)


@pytest.mark.parametrize("name", NORMS)
def test_norm_entries_are_derivatives_of_the_layers_own_backward(name):
    """The curvature map is the Jacobian of x -> dC/dx (the layer's backward at fixed g), and
    the gamma-by-input term the Jacobian of x -> dC/dgamma."""
    make, shape, batched = NORMS[name]
    net = tc.Network.stack([make()], input_shape=shape[1:] if batched else shape, seed=3)
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=shape), rng.normal(size=shape)

    def record(x):
        return net.forward(x).records[0]

    def backward(x, which):
        rec = record(x)
        gx, grads = rec.node.layer.backward(g, rec.ctx, True)
        return gx if which == "x" else grads["gamma"]

    rec = record(x)
    sym = {"x": "z", "out": "y", "gamma": "g", "beta": "b"}
    S = norm_second.norm_curvature(rec.node.layer, rec.ctx, g, sym)
    assert len(S.terms) == 5
    np.testing.assert_allclose(S.dense(), _central(lambda v: backward(v, "x"), x),
                               rtol=1e-6, atol=1e-8)
    E = norm_second.gamma_input(rec.node.layer, rec.ctx, g, sym)
    np.testing.assert_allclose(E.dense(), _central(lambda v: backward(v, "gamma"), x),
                               rtol=1e-6, atol=1e-8)


CASES = {
    "layer norm": lambda: tc.Network.stack(
        [tc.Dense(4), tc.LayerNorm(), "tanh", tc.Dense(3)], input_shape=(3,), loss="nll",
        seed=1),
    "layer norm first": lambda: tc.Network.stack(
        [tc.LayerNorm(), tc.Dense(3), "softmax"], input_shape=(4,), loss="cross_entropy",
        seed=2),
    "hidden softmax": lambda: tc.Network.stack(
        [tc.Dense(4), "softmax", tc.Dense(2), "sigmoid"], input_shape=(3,),
        loss="squared_error", seed=3),
    "two layer norms, decay": lambda: tc.Network.stack(
        [tc.Dense(4), tc.LayerNorm(), tc.Dense(4), tc.LayerNorm(), "gelu", tc.Dense(2)],
        input_shape=(3,), loss="squared_error", seed=4, weight_decay=0.1),
    "batch norms": lambda: tc.Network.stack(
        [tc.Dense(4), tc.BatchNorm(), "tanh", tc.Dense(3), tc.BatchNorm(unbiased=True),
         tc.Dense(3), "softmax"], input_shape=(3,), loss="cross_entropy", seed=6),
    "conv, batch norm over channels": lambda: tc.Network.stack(
        [tc.Conv2d(2, 2, padding=1), tc.BatchNorm2d(), "softplus", tc.Flatten(), tc.Dense(2)],
        input_shape=(1, 3, 3), loss="nll", seed=7),
    "conv, group norm": lambda: tc.Network.stack(
        [tc.Conv2d(4, 2, padding=1), tc.GroupNorm(2), "tanh", tc.Flatten(), tc.Dense(2)],
        input_shape=(1, 3, 3), loss="nll", seed=8),
}

NEEDS_BATCH = ("batch norms", "conv, batch norm over channels")


@pytest.mark.parametrize("name, batch", [(name, batch) for name in CASES for batch in (0, 4)
                                         if batch or name not in NEEDS_BATCH])
def test_blocks_against_central_differences_dense_and_products(name, batch):
    rng = np.random.default_rng(5)
    net = CASES[name]()
    assert_blocks_agree(net, *draw_data(net, batch, rng), rng)


def test_parts_name_the_curvature_of_the_norm_and_gamma_bilinear():
    net = CASES["layer norm"]()
    x, y = draw_data(net, 4, np.random.default_rng(6))
    parts = tc.hessian_parts(net, x, y, "W1")
    assert list(parts) == ["Gauss-Newton", "curvature of layer 2", "curvature of layer 3"]
    assert len(parts["curvature of layer 2"].terms) == 5
    cross = tc.hessian_parts(net, x, y, ("gamma2", "W1"))
    assert "bilinear of layer 2" in cross
    np.testing.assert_allclose(cross.total().dense(),
                               tc.hessian(net, x, y, ("gamma2", "W1"), method="numeric").dense(),
                               rtol=1e-5, atol=1e-7)


def test_against_torch_func_hessian():
    torch = pytest.importorskip("torch")
    net = tc.Network.stack([tc.Dense(5), tc.LayerNorm(), "tanh", tc.Dense(4), "softmax",
                            tc.Dense(3)], input_shape=(3,), loss="nll", seed=8)
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(6, 3)), rng.integers(3, size=6)
    names = list(net.params)

    def loss(*ps):
        p = dict(zip(names, ps))
        a = torch.tensor(x) @ p["W1"].T + p["b1"]
        mu = a.mean(-1, keepdim=True)
        a = torch.tanh(p["gamma2"] * (a - mu)
                       / torch.sqrt(((a - mu) ** 2).mean(-1, keepdim=True) + 1e-5) + p["beta2"])
        a = torch.softmax(a @ p["W3"].T + p["b3"], -1)
        z = a @ p["W4"].T + p["b4"]
        return -torch.log_softmax(z, -1)[torch.arange(6), torch.tensor(y)].mean()

    assert_matches_torch(torch, net, x, y, loss)
