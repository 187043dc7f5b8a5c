"""Cross-checks against independent engines (torch, jax), skipped where they are not installed.

Install them with the ``crosscheck`` extra. Gradients of the loss and full Jacobians (output
w.r.t. input, logits w.r.t. W1) must agree with tensorcalc's full tensor chain rule.
"""

import numpy as np
import pytest
from hypothesis import given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs
from tensorcalc.layers.activations import LEAKY_SLOPE


def _forward(ops, net, params, x, upto="output"):
    a = x
    for l in range(1, net.depth + 1):
        z = a @ params[f"W{l}"].T
        if f"b{l}" in params:
            z = z + params[f"b{l}"]
        if l == net.depth and upto == "logits":
            return z
        a = ops[net.activation(l).name](z)
    return a


def _loss(ops, net, out, y, n_out):
    batch = out.ndim == 2
    name = net.loss_fn.name
    if name == "squared_error":
        total = ops["sum"]((out - y) ** 2)
    else:
        t = np.eye(n_out)[y] if np.asarray(y).dtype.kind in "iu" or np.ndim(y) < out.ndim \
            else np.asarray(y, dtype=float)
        logp = ops["log"](out) if name == "cross_entropy" else ops["log_softmax"](out)
        total = -ops["sum"](ops["const"](t) * logp)
    return total / out.shape[0] if batch else total


def torch_ops():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    return torch, {
        "identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "relu": torch.relu, "leaky_relu": lambda z: F.leaky_relu(z, LEAKY_SLOPE),
        "softplus": F.softplus, "softmax": lambda z: torch.softmax(z, -1),
        "gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"), "silu": F.silu,
        "elu": F.elu,
        "log_softmax": lambda z: torch.log_softmax(z, -1), "log": torch.log, "sum": torch.sum,
        "const": lambda t: torch.as_tensor(t, dtype=torch.float64),
    }


@settings(max_examples=40)
@given(tcs.networks(max_width=8, max_batch=4))
def test_gradients_match_torch_backward(case):
    torch, ops = torch_ops()
    net, x, y = case
    params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    out = _forward(ops, net, params, torch.tensor(x))
    y_t = y if net.loss_fn.name != "squared_error" else torch.tensor(y)
    _loss(ops, net, out, y_t, net.sizes[-1]).backward()
    ours = tc.backprop(net, x, y, "full")
    for name, p in params.items():
        np.testing.assert_allclose(ours[name].dense(), p.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch", [None, 3])
def test_jacobians_match_torch_jacrev(batch):
    torch, ops = torch_ops()
    from torch.func import jacrev

    net = tc.Network.random([5, 7, 6, 4], hidden="tanh", output="softmax",
                            loss="cross_entropy", seed=2)
    x = np.random.default_rng(0).normal(size=(batch, 5) if batch else 5)
    params = {k: torch.tensor(v) for k, v in net.params.items()}
    dx = jacrev(lambda xt: _forward(ops, net, params, xt))(torch.tensor(x)).numpy()
    np.testing.assert_allclose(tc.jacobian(net, x, wrt="x").dense(), dx, rtol=1e-10, atol=1e-13)

    def logits_of_W1(W1):
        return _forward(ops, net, {**params, "W1": W1}, torch.tensor(x), upto="logits")

    dW = jacrev(logits_of_W1)(params["W1"]).numpy()
    ours = tc.jacobian(net, x, wrt="W1", of="logits")
    assert ours.kind == ("vector-by-matrix" if batch is None else "matrix-by-matrix")
    np.testing.assert_allclose(ours.dense(), dW, rtol=1e-10, atol=1e-13)


def jax_ops():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    return jax, {
        "identity": lambda z: z, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh,
        "relu": jax.nn.relu, "leaky_relu": lambda z: jax.nn.leaky_relu(z, LEAKY_SLOPE),
        "softplus": jax.nn.softplus, "softmax": lambda z: jax.nn.softmax(z, axis=-1),
        "gelu": lambda z: jax.nn.gelu(z, approximate=False),
        "gelu_tanh": lambda z: jax.nn.gelu(z, approximate=True), "silu": jax.nn.silu,
        "elu": jax.nn.elu,
        "log_softmax": lambda z: jax.nn.log_softmax(z, axis=-1), "log": jnp.log,
        "sum": jnp.sum, "const": jnp.asarray,
    }


@settings(max_examples=15)
@given(tcs.networks(max_width=6, max_batch=3))
def test_gradients_match_jax_grad(case):
    jax, ops = jax_ops()
    net, x, y = case

    def loss(params):
        out = _forward(ops, net, params, x)
        return _loss(ops, net, out, y, net.sizes[-1])

    grads = jax.grad(loss)({k: jax.numpy.asarray(v) for k, v in net.params.items()})
    ours = tc.backprop(net, x, y, "full")
    for name, g in grads.items():
        np.testing.assert_allclose(ours[name].dense(), np.asarray(g), rtol=1e-9, atol=1e-12)


def test_jacobians_match_jax_jacrev():
    jax, ops = jax_ops()
    net = tc.Network.random([5, 7, 4], hidden="softplus", output="sigmoid", seed=4)
    x = np.random.default_rng(1).normal(size=5)
    params = {k: jax.numpy.asarray(v) for k, v in net.params.items()}
    dx = jax.jacrev(lambda v: _forward(ops, net, params, v))(x)
    np.testing.assert_allclose(tc.jacobian(net, x).dense(), np.asarray(dx), rtol=1e-10)
    dW = jax.jacrev(lambda W: _forward(ops, net, {**params, "W1": W}, x, "logits"))(
        params["W1"])
    np.testing.assert_allclose(tc.jacobian(net, x, "W1", "logits").dense(), np.asarray(dW),
                               rtol=1e-10, atol=1e-13)
