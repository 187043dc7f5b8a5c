"""Stacks against torch autograd (skipped where torch is not installed): batch norm, layer norm,
residual blocks, dropout with the same mask, (in, out) weights, scale, sum reduction, weight
decay, binary cross-entropy and hinge. torch computes its own forward pass from the layers'
configurations; only the parameters and the dropout mask are shared."""

import re

import numpy as np
import pytest
from hypothesis import given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs
from tensorcalc.layers.activations import LEAKY_SLOPE
from tensorcalc.layers.dropout import dropout_mask

torch = pytest.importorskip("torch")
F = torch.nn.functional

ACTS = {"identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "relu": torch.relu, "leaky_relu": lambda z: F.leaky_relu(z, LEAKY_SLOPE),
        "softplus": F.softplus, "gelu": F.gelu,
        "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"), "silu": F.silu, "elu": F.elu}


def _forward(layers, params, names, x):
    for layer, name in zip(layers, names):
        if isinstance(layer, tc.Dense):
            W = params[f"W{name}"]
            x = x @ W if layer.weights == "in_out" else x @ W.T
            x = x + params[f"b{name}"] if layer.bias else x
        elif isinstance(layer, tc.Activation) and layer.slope is not None:
            x = F.leaky_relu(x, layer.slope)
        elif isinstance(layer, tc.Activation):
            x = ACTS[layer.primitive.name](x)
        elif isinstance(layer, tc.Softmax):
            x = torch.softmax(x, -1)
        elif isinstance(layer, tc.BatchNorm) and layer.unbiased:
            xhat = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + layer.eps)
            x = params[f"gamma{name}"] * xhat + params[f"beta{name}"]
        elif isinstance(layer, tc.BatchNorm):
            x = F.batch_norm(x, None, None, params[f"gamma{name}"], params[f"beta{name}"],
                             training=True, eps=layer.eps)
        elif isinstance(layer, tc.BatchNorm2d):
            x = F.batch_norm(x, None, None, params[f"gamma{name}"], params[f"beta{name}"],
                             training=True, eps=layer.eps)
        elif isinstance(layer, tc.GroupNorm):
            single = _flat_single[0]
            x = F.group_norm(x[None] if single else x, layer.groups, params[f"gamma{name}"],
                             params[f"beta{name}"], eps=layer.eps)
            x = x[0] if single else x
        elif isinstance(layer, tc.Embedding):
            x = params[f"C{name}"][torch.as_tensor(x)]
        elif isinstance(layer, tc.LayerNorm):
            x = F.layer_norm(x, x.shape[-1:], params[f"gamma{name}"], params[f"beta{name}"],
                             eps=layer.eps)
        elif isinstance(layer, tc.Dropout) and layer.mask is not None:
            x = x * torch.as_tensor(layer.mask) / (1 - layer.p)
        elif isinstance(layer, tc.Dropout):
            x = x * torch.as_tensor(dropout_mask(tuple(x.shape), layer.p, layer.seed))
        elif isinstance(layer, tc.layers.Conv):
            K = params[f"K{name}"]
            conv = F.conv2d if K.ndim == 4 else F.conv1d
            kernel, stride, padding, dilation = layer.options
            single = x.ndim == K.ndim - 1
            x = conv(x[None] if single else x, K, params.get(f"b{name}"), stride, padding,
                     dilation)
            x = x[0] if single else x
        elif isinstance(layer, (tc.layers.MaxPool, tc.layers.AvgPool)):
            x = _pool(layer, x, x.ndim - 1 - (not _flat_single[0]))
        elif isinstance(layer, tc.Flatten):
            x = x.reshape(-1) if _flat_single[0] else x.reshape(x.shape[0], -1)
        else:  # a residual block
            x = x + _forward(layer.layers, params, name, x)
    return x


_flat_single = [False]  # whether the current input is one sample (no batch axis)


def _pool(layer, x, dims):
    pool = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("avg", 1): F.avg_pool1d,
            ("avg", 2): F.avg_pool2d}[layer.pool, dims]
    single = _flat_single[0]
    y = pool(x[None] if single else x, layer.kernel_size, layer.stride)
    return y[0] if single else y


def _numbering(nodes):
    """The parameter number of each node (nested lists for residual blocks)."""
    out = []
    for node in nodes:
        if node.children:
            out.append(_numbering(node.children))
        else:
            out.append(re.sub("^[a-zA-Z]+", "", next(iter(node.names.values())))
                       if node.names else None)
    return out


def _loss(net, out, y):
    loss, batched = net.loss_fn, out.ndim == 2
    if loss.name in ("cross_entropy", "nll", "hinge") and out.shape[-1] > 1:
        y = np.asarray(y)
        t = torch.as_tensor(np.eye(out.shape[-1])[y] if y.dtype.kind in "iu" else y,
                            dtype=torch.float64)
    else:
        t = torch.as_tensor(np.asarray(y, dtype=float)).reshape(out.shape)
    if loss.name == "squared_error":
        total = torch.sum((out - t) ** 2)
    elif loss.name == "cross_entropy":
        total = -torch.sum(t * torch.log(out))
    elif loss.name == "nll":
        total = -torch.sum(t * torch.log_softmax(out, -1))
    elif loss.name == "binary_cross_entropy":
        total = F.binary_cross_entropy(out, t, reduction="sum")
    elif out.shape[-1] == 1:
        total = torch.sum(torch.clamp(1 - t * out, min=0))
    else:
        target = torch.sum(out * t, -1, keepdim=True)
        total = torch.sum(torch.clamp(out - target + 1, min=0) * (1 - t))
    if batched and loss.reduction == "mean":
        total = total / out.shape[0]
    return loss.scale * total


def torch_gradients(net, x, y):
    _flat_single[0] = np.ndim(x) == len(net.input_shape)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    numbers = _numbering(net.nodes)
    out = _forward(net.layers, params, numbers, torch.as_tensor(x))
    total = _loss(net, out, y)
    total = total + net.weight_decay * sum(torch.sum(p ** 2) for k, p in params.items()
                                           if k[0] in "WK")
    total.backward()
    return float(total.detach()), {k: p.grad.numpy() for k, p in params.items()}


def _assert_matches_torch(net, x, y):
    loss, ref = torch_gradients(net, x, y)
    assert net.loss(x, y) == pytest.approx(loss, rel=1e-10, abs=1e-12)
    ours = tc.backprop(net, x, y, "full")
    for name, g in ref.items():
        np.testing.assert_allclose(ours[name].dense(), g, rtol=1e-9, atol=1e-11, err_msg=name)


@settings(max_examples=60)
@given(tcs.stacks(max_depth=4, max_width=6, max_batch=4))
def test_drawn_stacks_match_torch(case):
    _assert_matches_torch(*case)


CASES = {
    "batchnorm": ([tc.Dense(5), tc.BatchNorm(), "relu", tc.Dense(3), "softmax"],
                  "cross_entropy"),
    "layernorm": ([tc.Dense(5), tc.LayerNorm(eps=1e-3), "tanh", tc.Dense(3)], "nll"),
    "residual": ([tc.Dense(4), tc.Residual([tc.Dense(4), tc.LayerNorm(), "tanh"]),
                  tc.Dense(3)], "squared_error"),
    "dropout": ([tc.Dense(6), "sigmoid", tc.Dropout(0.4, seed=2), tc.Dense(3)],
                "squared_error"),
    "in_out": ([tc.Dense(5, weights="in_out"), "relu", tc.Dense(3, weights="in_out")], "nll"),
    "scale": ([tc.Dense(4), "tanh", tc.Dense(3)], tc.Loss("squared_error", scale=0.5)),
    "sum": ([tc.Dense(4), "tanh", tc.Dense(3), "softmax"],
            tc.Loss("cross_entropy", reduction="sum")),
    "bce": ([tc.Dense(4), "relu", tc.Dense(3), "sigmoid"], "binary_cross_entropy"),
    "hinge": ([tc.Dense(4), "tanh", tc.Dense(3)], "hinge"),
    "hinge1": ([tc.Dense(4), "tanh", tc.Dense(1)], "hinge"),
}


@pytest.mark.parametrize("what", list(CASES))
@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_each_option_matches_torch(what, decay):
    layers, loss = CASES[what]
    net = tc.Network.stack(layers, loss=loss, input_shape=(3,), seed=7, weight_decay=decay)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 3))
    name = tc.Loss.of(loss).name
    y = {"cross_entropy": rng.integers(0, 3, size=6), "nll": rng.integers(0, 3, size=6),
         "squared_error": rng.normal(size=(6, 3)), "binary_cross_entropy": rng.uniform(
             size=(6, 3)), "hinge": rng.integers(0, 3, size=6)}[name]
    if what == "hinge1":
        y = rng.choice([-1.0, 1.0], size=6)
    _assert_matches_torch(net, x, y)
    if what != "batchnorm":
        _assert_matches_torch(net, x[0], y[0])


@settings(max_examples=40)
@given(tcs.conv_stacks(max_size=9))
def test_drawn_cnns_match_torch(case):
    _assert_matches_torch(*case)


@pytest.mark.parametrize("batch", [None, 2])
def test_cnn_values_and_jacobian_by_the_image_match_torch(batch):
    from torch.func import jacrev

    net = tc.Network.stack("conv 3 3 s2 p1, relu, maxpool 2, conv 4 2 d2, tanh, avgpool 1, "
                           "flatten, dense 5", loss="nll", input_shape=(2, 16, 15), seed=3)
    x = np.random.default_rng(0).normal(size=((batch,) if batch else ()) + (2, 16, 15))
    _flat_single[0] = batch is None
    params = {k: torch.tensor(v) for k, v in net.params.items()}
    numbers = _numbering(net.nodes)
    logits = _forward(net.layers, params, numbers, torch.as_tensor(x))
    np.testing.assert_allclose(net(x), logits.numpy(), rtol=1e-12, atol=1e-13)
    ref = jacrev(lambda v: _forward(net.layers, params, numbers, v))(torch.as_tensor(x))
    ours = tc.jacobian(net, x)
    assert ours.shape == tuple(ref.shape)
    np.testing.assert_allclose(ours.dense(), ref.numpy(), rtol=1e-10, atol=1e-12)


def test_unbiased_batch_norm_matches_torch_autograd():
    net = tc.Network.stack([tc.Dense(4), tc.BatchNorm(unbiased=True), "tanh", tc.Dense(2)],
                           input_shape=(3,), seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    z = torch.tensor(x) @ p["W1"].T + p["b1"]
    xhat = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=True) + 1e-5)
    out = torch.tanh(p["gamma2"] * xhat + p["beta2"]) @ p["W3"].T + p["b3"]
    (torch.sum((out - torch.tensor(y)) ** 2) / 5).backward()
    ours = tc.backprop(net, x, y)
    for name, t in p.items():
        np.testing.assert_allclose(ours[name].dense(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_embedding_network_matches_torch():
    """A makemore-style network: embedding, flatten, dense, Bessel batch norm, tanh, dense."""
    net = tc.Network.stack([tc.Embedding(27, 10), tc.Flatten(), tc.Dense(64),
                            tc.BatchNorm(unbiased=True), "tanh", tc.Dense(27)], loss="nll",
                           input_shape=(3,), seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, 27, size=(32, 3)), rng.integers(0, 27, size=32)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    emb = F.embedding(torch.tensor(X), p["C1"]).reshape(32, -1)
    h = emb @ p["W2"].T + p["b2"]
    hhat = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=True) + 1e-5)
    logits = torch.tanh(p["gamma3"] * hhat + p["beta3"]) @ p["W4"].T + p["b4"]
    F.cross_entropy(logits, torch.tensor(Y)).backward()
    for method in ("full", "shortcut"):
        ours = tc.backprop(net, X, Y, method)
        for name, t in p.items():
            np.testing.assert_allclose(ours[name].dense(), t.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=f"{method} {name}")
