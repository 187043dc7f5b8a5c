"""Network construction, forward pass and its errors."""

import numpy as np
import pytest

import tensorcalc as tc


def test_forward_keeps_z_and_a_one_based():
    net = tc.Network.random([3, 4, 2], seed=0)
    x = np.array([1.0, 2.0, 3.0])
    fw = net.forward(x)
    np.testing.assert_array_equal(fw.a[0], x)
    z1 = net.params["W1"] @ x + net.params["b1"]
    np.testing.assert_allclose(fw.z[1], z1)
    np.testing.assert_allclose(fw.a[1], 1 / (1 + np.exp(-z1)))
    np.testing.assert_allclose(fw.output, net(x))


def test_from_params_without_bias_and_names():
    W1, W2 = np.ones((4, 3)), np.ones((2, 4))
    net = tc.Network.from_params({"W1": W1, "W2": W2}, hidden="tanh", output="identity",
                                 loss="nll")
    assert not net.bias and net.sizes == [3, 4, 2] and net.depth == 2
    assert net.loss(np.zeros(3), 1) == pytest.approx(np.log(2))
    W1[0, 0] = 5.0  # the network keeps its own copy
    assert net.params["W1"][0, 0] == 1.0


@pytest.mark.parametrize("kwargs,error,phrase", [
    ({"hidden": "swish"}, tc.UnknownNameError, "'sigmoid', 'tanh'"),
    ({"output": "softmax2"}, tc.UnknownNameError, "'softmax'"),
    ({"loss": "svm"}, tc.UnknownNameError, "'squared_error', 'cross_entropy', 'nll'"),
    ({"output": "sigmoid", "loss": "nll"}, tc.TensorcalcError, "must be 'identity'"),
    ({"output": "tanh", "loss": "cross_entropy"}, tc.TensorcalcError, "must be 'softmax'"),
    ({"output": "sigmoid", "loss": "cross_entropy"}, tc.TensorcalcError, "must be 'softmax'"),
])
def test_bad_names(kwargs, error, phrase):
    with pytest.raises(error, match=phrase):
        tc.Network.random([2, 3], **kwargs)


def test_weights_that_do_not_chain():
    with pytest.raises(tc.ShapeMismatchError, match=r"W2 must have shape \(2, 4\)"):
        tc.Network.from_params({"W1": np.ones((4, 3)), "W2": np.ones((2, 5))})
    with pytest.raises(tc.ShapeMismatchError, match=r"b1 must have shape \(4,\)"):
        tc.Network.from_params({"W1": np.ones((4, 3)), "b1": np.ones(3)})
    with pytest.raises(tc.TensorcalcError, match="W1, b1, ..., WL, bL"):
        tc.Network.from_params({"W0": np.ones((4, 3))})


def test_bad_inputs_and_targets():
    net = tc.Network.random([3, 4, 2], output="softmax", loss="cross_entropy")
    with pytest.raises(tc.ShapeMismatchError, match=r"x must have shape \(3,\)"):
        net.forward(np.ones(4))
    with pytest.raises(tc.InvalidInputError, match="class index out of range"):
        net.loss(np.ones(3), 2)
    with pytest.raises(tc.ShapeMismatchError, match=r"prediction's shape \(2,\)"):
        net.loss(np.ones(3), np.ones(3))
    with pytest.raises(tc.InvalidInputError, match="class index out of range"):
        tc.backprop(net, np.ones((2, 3)), np.array([0, 5]))
