"""BatchNorm2d and GroupNorm inside whole convolutional networks: the gradients of every
method against torch's autograd of the same network, the input gradient against central
differences, group norm on samples without positions, and batch norm over channels with one
value per channel refused. (The layers alone are checked in test_group_norms.py.)"""

import numpy as np
import pytest

import tensorcalc as tc

RNG = np.random.default_rng(21)
NETS = [(tc.BatchNorm2d(), (2, 5, 4), 3), (tc.GroupNorm(2), (2, 5, 4), 3),
        (tc.GroupNorm(4, eps=1e-3), (2, 4, 4), 2), (tc.GroupNorm(1), (1, 4, 3), 0)]


def _net(norm, shape):
    layers = [tc.Conv2d(4, 3, padding=1), norm, "relu", tc.Flatten(), tc.Dense(3)]
    return tc.Network.stack(layers, input_shape=shape, loss="squared_error", seed=7)


def _torch_loss(torch, norm, p, x, y):
    """The same network written directly in torch: conv, the norm, relu, dense, and the mean
    over samples of the summed squared error."""
    F = torch.nn.functional
    h = F.conv2d(x, p["K1"], p["b1"], padding=1)
    if isinstance(norm, tc.BatchNorm2d):
        h = F.batch_norm(h, None, None, p["gamma2"], p["beta2"], training=True, eps=norm.eps)
    else:
        h = F.group_norm(h, norm.groups, p["gamma2"], p["beta2"], eps=norm.eps)
    out = F.linear(torch.relu(h).flatten(1), p["W3"], p["b3"])
    return ((out - y) ** 2).sum(dim=1).mean()


@pytest.mark.parametrize("norm, shape, batch", NETS, ids=str)
def test_network_gradients_match_torch_autograd(norm, shape, batch):
    torch = pytest.importorskip("torch")
    net = _net(norm, shape)
    lead = (batch,) if batch else ()
    x, y = RNG.normal(size=lead + shape), RNG.normal(size=lead + (3,))
    xt = torch.tensor(x if batch else x[None], requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    loss = _torch_loss(torch, norm, pt, xt, torch.tensor(y if batch else y[None]))
    loss.backward()
    assert net.loss(x, y) == pytest.approx(loss.item(), rel=1e-12)
    for method in ("full", "shortcut"):
        g = tc.backprop(net, x, y, method, input_grad=True)
        for name, t in pt.items():
            np.testing.assert_allclose(g[name].dense(), t.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=f"{method} {name}")
        np.testing.assert_allclose(g["x"].dense(), xt.grad.numpy().reshape(x.shape),
                                   rtol=1e-9, atol=1e-12, err_msg=f"{method} x")


@pytest.mark.parametrize("norm, shape, batch", NETS, ids=str)
def test_input_gradient_matches_central_differences(norm, shape, batch):
    net = _net(norm, shape)
    lead = (batch,) if batch else ()
    x, y = RNG.normal(size=lead + shape), RNG.normal(size=lead + (3,))
    g = tc.backprop(net, x, y, "full", input_grad=True)
    report = tc.check_derivative(g["x"], lambda v: net.loss(v, y), x)
    assert report.ok, str(report)


@pytest.mark.parametrize("shape", [(6,), (6, 4)], ids=str)
def test_group_norm_on_samples_without_two_spatial_axes(shape):
    torch = pytest.importorskip("torch")
    net = tc.Network.stack([tc.GroupNorm(3)], input_shape=shape, seed=3)
    x = RNG.normal(size=(2,) + shape) * 3 - 1
    expected = torch.nn.functional.group_norm(
        torch.tensor(x), 3, torch.tensor(net.params["gamma1"]),
        torch.tensor(net.params["beta1"]), eps=1e-5).numpy()
    np.testing.assert_allclose(net(x), expected, rtol=1e-12, atol=1e-12)
    J = tc.jacobian(net, x, wrt="x")
    numeric = tc.numerical_derivative(lambda v: net(v), x).dense()
    np.testing.assert_allclose(J.dense(), numeric, rtol=1e-6, atol=1e-8)


def test_batchnorm2d_refuses_one_value_per_channel():
    net = tc.Network.stack([tc.BatchNorm2d()], input_shape=(3, 1, 1))
    with pytest.raises(tc.InvalidInputError, match=r"N x positions >= 2.*\(1, 3, 1, 1\)"):
        net(RNG.normal(size=(1, 3, 1, 1)))
    assert net(RNG.normal(size=(2, 3, 1, 1))).shape == (2, 3, 1, 1)  # two samples suffice


def test_group_norm_error_names_channels_groups_and_the_fix():
    with pytest.raises(tc.ShapeMismatchError) as err:
        tc.Network.stack([tc.Conv2d(6, 3), tc.GroupNorm(4)], input_shape=(1, 5, 5))
    text = str(err.value)
    assert "GroupNorm(4)" in text and "6 channels" in text and "divide C" in text
