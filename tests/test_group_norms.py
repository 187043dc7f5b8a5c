"""BatchNorm2d and GroupNorm: every method against central differences and torch, Jacobians
stored as terms of the input's size, clear errors; and batch norm's coupling of samples in a
full Jacobian by the input."""

import numpy as np
import pytest

import tensorcalc as tc

RNG = np.random.default_rng(8)
CASES = [(tc.BatchNorm2d(), (3, 4, 5), 2), (tc.BatchNorm2d(eps=1e-3), (2, 6), 3),
         (tc.GroupNorm(2), (4, 3, 3), 3), (tc.GroupNorm(2), (4, 3, 3), 0),
         (tc.GroupNorm(1), (2, 5), 2), (tc.GroupNorm(4), (4, 2, 2), 2)]


def _net(layer, shape):
    return tc.Network.stack([tc.Conv2d(shape[0], 1, padding=0) if len(shape) == 3 else
                             tc.Conv1d(shape[0], 1), layer, "tanh", tc.Flatten(), tc.Dense(3)],
                            input_shape=shape, loss="squared_error", seed=4)


@pytest.mark.parametrize("layer, shape, batch", CASES, ids=str)
def test_every_method_agrees_and_matches_central_differences(layer, shape, batch):
    net = _net(layer, shape)
    lead = (batch,) if batch else ()
    x, y = RNG.normal(size=lead + shape), RNG.normal(size=lead + (3,))
    full = tc.backprop(net, x, y, "full", input_grad=True)
    for method in ("dense", "shortcut"):
        other = tc.backprop(net, x, y, method, input_grad=True)
        for k in full:
            np.testing.assert_allclose(other[k].dense(), full[k].dense(), rtol=1e-10,
                                       atol=1e-13, err_msg=f"{method} {k}")
    for name, value in net.params.items():
        report = tc.check_derivative(
            full[name], lambda v, n=name: net.with_param(n, v).loss(x, y), value)
        assert report.ok, f"{name}\n{report}"


@pytest.mark.parametrize("layer, shape, batch", CASES, ids=str)
def test_against_torch(layer, shape, batch):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    net = tc.Network.stack([layer], input_shape=shape, loss="squared_error", seed=2)
    lead = (batch,) if batch else ()
    x, dout = RNG.normal(size=lead + shape) * 2 + 1, RNG.normal(size=lead + shape)
    xt = torch.tensor(x, requires_grad=True)
    gamma = torch.tensor(net.params["gamma1"], requires_grad=True)
    beta = torch.tensor(net.params["beta1"], requires_grad=True)
    if isinstance(layer, tc.BatchNorm2d):
        out = F.batch_norm(xt, None, None, gamma, beta, training=True, eps=layer.eps)
    else:
        out = F.group_norm(xt if batch else xt[None], layer.groups, gamma, beta, eps=layer.eps)
        out = out if batch else out[0]
    (out * torch.tensor(dout)).sum().backward()
    xs, ds = (x, dout) if batch else (x[None], dout[None])  # the reference takes batches
    ref = tc.testing.reference.reference(layer, {"x": xs, "gamma": net.params["gamma1"],
                                                 "beta": net.params["beta1"]}, ds)
    np.testing.assert_allclose(ref.out.reshape(out.shape), out.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(net(x), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name, t in (("x", xt), ("gamma", gamma), ("beta", beta)):
        np.testing.assert_allclose(ref.grads[name].reshape(t.shape), t.grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("layer", [tc.BatchNorm2d(), tc.GroupNorm(2)], ids=str)
def test_the_jacobian_is_three_terms_of_the_inputs_size(layer):
    shape, batch = (4, 3, 3), 3
    net = tc.Network.stack([layer], input_shape=shape)
    x = RNG.normal(size=(batch,) + shape)
    J = tc.jacobian(net, x, wrt="x")
    assert J.shape == (batch,) + shape + (batch,) + shape and len(J.terms) == 3
    stored = sum(f.array.size for t in J.terms for f in t.factors)
    assert stored <= 4 * x.size + 16 < J.dense().size / 20
    numeric = tc.numerical_derivative(lambda v: net(v), x).dense()
    np.testing.assert_allclose(J.dense(), numeric, rtol=1e-6, atol=1e-8)


def test_group_norm_needs_groups_that_divide_the_channels():
    with pytest.raises(tc.ShapeMismatchError, match="6 is not a multiple of 4"):
        tc.Network.stack([tc.GroupNorm(4)], input_shape=(6, 2, 2))
    with pytest.raises(tc.TensorcalcError, match="whole number of groups"):
        tc.GroupNorm(0)


def test_batchnorm2d_needs_a_batch():
    net = tc.Network.stack([tc.BatchNorm2d()], input_shape=(2, 3, 3))
    with pytest.raises(tc.InvalidInputError, match="needs a batch"):
        net(np.ones((2, 3, 3)))


def test_the_grammar_reads_both():
    net = tc.Network.stack("conv 4 3, batchnorm2d, relu, groupnorm 2, flatten, dense 2",
                           input_shape=(1, 5, 5))
    assert [type(layer).__name__ for layer in net.layers][1:4] == ["BatchNorm2d",
                                                                   "Activation", "GroupNorm"]
    assert "groupnorm 2" in [layer.spec() for layer in net.layers]


def test_batch_norm_couples_samples_in_the_jacobian_by_the_input():
    net = tc.Network.stack([tc.Dense(3), tc.BatchNorm(), "tanh", tc.Dense(2)], input_shape=(2,))
    x = RNG.normal(size=(4, 2))
    J = tc.jacobian(net, x, of=2, wrt="x")  # the batch norm's output by the input
    assert J.shape == (4, 3, 4, 2)
    text = tc.jacobian(tc.Network.stack([tc.BatchNorm()], input_shape=(3,)), x[:, :1]
                       .repeat(3, axis=1) + RNG.normal(size=(4, 3)), wrt="x").index_notation()
    assert "1/N" in text and "delta_nm" not in text.split("=")[0]
    numeric = tc.numerical_derivative(lambda v: net.forward(v).records[1].ctx.y, x).dense()
    np.testing.assert_allclose(J.dense(), numeric, rtol=1e-6, atol=1e-8)
    off_diagonal = J.dense()[0, :, 1, :]
    assert np.abs(off_diagonal).max() > 1e-3  # sample 0's output depends on sample 1
