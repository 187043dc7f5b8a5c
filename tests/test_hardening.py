"""Bad input: each row of docs/errors.md is one case here, with its exception and phrase."""

from pathlib import Path

import numpy as np
import pytest
from _custom_layer import scaled_network
from hypothesis import given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs

NET = tc.Network.random([3, 4, 2], seed=0)
CE = tc.Network.random([3, 4, 2], output="softmax", loss="cross_entropy", seed=0)
X, Y = np.array([0.1, 0.2, 0.3]), np.array([0.0, 1.0])

ROWS = [
    ("NaN in the input x", lambda: NET.forward(np.array([np.nan, 0, 0])),
     tc.InvalidInputError, "non-finite"),
    ("inf in a weight", lambda: tc.Network.from_params({"W1": np.array([[np.inf]])}),
     tc.InvalidInputError, "non-finite"),
    ("NaN in a target", lambda: NET.loss(X, np.array([np.nan, 0.0])),
     tc.InvalidInputError, "non-finite"),
    ("complex input", lambda: NET.forward(X + 1j), tc.InvalidInputError, "complex"),
    ("complex weights", lambda: tc.Network.from_params({"W1": np.ones((2, 2), complex)}),
     tc.InvalidInputError, "complex"),
    ("object array", lambda: NET.forward(np.array([1, "a", None], dtype=object)),
     tc.InvalidInputError, "not numeric"),
    ("0-d input where a vector is expected", lambda: NET.forward(np.float64(1.0)),
     tc.ShapeMismatchError, "x must have shape (3,)"),
    ("3-d input where a batch is expected", lambda: NET.forward(np.ones((2, 2, 3))),
     tc.ShapeMismatchError, "(N, 3) for a batch"),
    ("wrong input width", lambda: NET.forward(np.ones(4)),
     tc.ShapeMismatchError, "got (4,)"),
    ("empty batch", lambda: NET.forward(np.ones((0, 3))),
     tc.InvalidInputError, "empty batch"),
    ("a layer of width 0", lambda: tc.Network.random([3, 0, 2]),
     tc.ShapeMismatchError, "each >= 1"),
    ("a weight matrix with a 0 side", lambda: tc.Network.from_params({"W1": np.ones((0, 3))}),
     tc.ShapeMismatchError, "non-empty matrix"),
    ("weights whose shapes do not chain",
     lambda: tc.Network.from_params({"W1": np.ones((4, 3)), "W2": np.ones((2, 5))}),
     tc.ShapeMismatchError, "W2 must have shape (2, 4)"),
    ("target of the wrong shape", lambda: NET.loss(X, np.ones(3)),
     tc.ShapeMismatchError, "prediction's shape (2,)"),
    ("class index out of range", lambda: CE.loss(X, 2),
     tc.InvalidInputError, "valid indices 0..1"),
    ("negative class index", lambda: CE.loss(np.ones((2, 3)), np.array([0, -1])),
     tc.InvalidInputError, "out of range"),
    ("non-integer class index", lambda: CE.loss(X, 0.5),
     tc.InvalidInputError, "whole numbers"),
    ("string class index", lambda: CE.loss(X, "1"),
     tc.InvalidInputError, "integers"),
    ("probabilities outside [0, 1] for cross-entropy",
     lambda: tc.cross_entropy(np.array([1.5, -0.5]), 0),
     tc.InvalidInputError, "probabilities in [0, 1]"),
    ("zero probability on the target class", lambda: tc.cross_entropy(np.array([0.0, 1.0]), 0),
     tc.InvalidInputError, "infinite"),
    ("unknown method", lambda: tc.backprop(NET, X, Y, "autograd"),
     tc.UnknownNameError, "'full', 'dense', 'shortcut', 'numeric'"),
    ("unknown layout", lambda: tc.Derivative.identity((2,)).to_layout("row"),
     tc.UnknownNameError, "'canonical', 'numerator', 'denominator'"),
    ("unknown activation", lambda: tc.Network.random([2, 2], hidden="swish2"),
     tc.UnknownNameError, "'relu', 'leaky_relu'"),
    ("unknown loss", lambda: tc.Network.random([2, 2], loss="mse"),
     tc.UnknownNameError, "'squared_error'"),
    ("unknown parameter in explain", lambda: tc.explain(NET, X, Y, "W3"),
     tc.UnknownNameError, "W1, b1, W2, b2"),
    ("NLL after a non-linear output", lambda: tc.Network.random([2, 2], loss="nll"),
     tc.TensorcalcError, "must be 'identity'"),
    ("chain of derivatives whose shapes do not fit",
     lambda: tc.chain(tc.Derivative.identity((2,)), tc.Derivative.identity((3,))),
     tc.ShapeMismatchError, "would fit"),
    ("dense() above the memory limit",
     lambda: tc.linear.derivative(np.ones((5000, 5000)), np.ones(5000), wrt="W").dense(),
     tc.MemoryLimitError, "above the limit"),
    ("ragged nested lists as input", lambda: NET.forward([[1.0, 2.0, 3.0], [1.0, 2.0]]),
     tc.InvalidInputError, "not a rectangular array"),
    ("a list of hidden activations with a non-name in it",
     lambda: tc.Network.random([3, 4, 4, 2], hidden=["relu", 3]),
     tc.UnknownNameError, "valid names are"),
    ("a list of hidden activations of the wrong length",
     lambda: tc.Network.random([3, 4, 2], hidden=["relu", "tanh"]),
     tc.ShapeMismatchError, "one activation per hidden layer"),
    ("a negative seed", lambda: tc.Network.random([3, 4, 2], seed=-1),
     tc.InvalidInputError, "non-negative integer"),
    ("a fractional layer width", lambda: tc.Network.random([3.5, 2]),
     tc.ShapeMismatchError, "whole-number widths"),
    ("sizes that are not a list", lambda: tc.Network.random(3),
     tc.ShapeMismatchError, "e.g. [3, 4, 2]"),
    ("an unknown dtype", lambda: tc.Network.random([3, 2], dtype="banana"),
     tc.InvalidInputError, "np.float32 or np.float64"),
    ("a dense limit that is not a number", lambda: tc.set_dense_limit("abc"),
     tc.TensorcalcError, "positive number of bytes"),
    ("target rows that do not sum to 1", lambda: CE.loss(X, np.array([1.0, 1.0])),
     tc.InvalidInputError, "summing to 1"),
    ("negative target probabilities", lambda: CE.loss(X, np.array([-1.0, 2.0])),
     tc.InvalidInputError, "entries in [0, 1]"),
    ("a huge class index", lambda: CE.loss(X, 1e20), tc.InvalidInputError, "out of range"),
    ("sigmoid output with cross-entropy",
     lambda: tc.Network.random([3, 2], output="sigmoid", loss="cross_entropy"),
     tc.TensorcalcError, "must be 'softmax'"),
    ("hadamard with mismatched shapes", lambda: tc.relu.hadamard(np.ones(3), np.ones(4)),
     tc.ShapeMismatchError, "of one shape"),
    ("an index label that is not a letter",
     lambda: tc.Derivative((), "1", "1", {"1": 2}), tc.TensorcalcError, "single letters"),
    ("a function that returns text, in check_derivative",
     lambda: tc.check_derivative(tc.Derivative.identity((2,)), lambda v: "x", np.ones(2)),
     tc.TensorcalcError, "real number"),
    ("a function that is not finite near x",
     lambda: tc.numerical_derivative(lambda v: v * np.nan, np.ones(2)),
     tc.InvalidInputError, "not finite around x"),
    ("compare with no method besides full",
     lambda: tc.compare(NET, X, Y, methods=["full"]), tc.UnknownNameError, "besides 'full'"),
    ("plotting something that is not a Derivative", lambda: tc.plot(np.ones(3)),
     tc.TensorcalcError, "draws a Derivative"),
    ("a stack without input_shape", lambda: tc.Network.stack([tc.Dense(2)]),
     tc.TensorcalcError, "needs input_shape"),
    ("an unknown layer name in a stack",
     lambda: tc.Network.stack([tc.Dense(3), "swish2"], input_shape=(2,)),
     tc.UnknownNameError, "layer 2: unknown layer 'swish2'"),
    ("a residual block that changes the shape",
     lambda: tc.Network.stack([tc.Dense(3), tc.Residual([tc.Dense(4)])], input_shape=(2,)),
     tc.TensorcalcError, "layer 2 (residual): a residual block must keep"),
    ("stack parameters whose widths do not fit",
     lambda: tc.Network.stack([tc.Dense(4), tc.Dense(2)], input_shape=(3,), params={
         "W1": np.ones((4, 3)), "b1": np.zeros(4), "W2": np.ones((2, 5)), "b2": np.zeros(2)}),
     tc.ShapeMismatchError, "W2 must have shape (2, 4) for layer 2 (dense)"),
    ("batch norm on a single sample",
     lambda: tc.Network.stack([tc.Dense(3), tc.BatchNorm()], input_shape=(2,)).forward(
         np.ones(2)), tc.InvalidInputError, "layer 2 (batchnorm): batch norm"),
    ("a dropout probability outside [0, 1)", lambda: tc.Dropout(1.0),
     tc.TensorcalcError, "in [0, 1)"),
    ("a dense layer with a fractional width", lambda: tc.Dense(2.5),
     tc.TensorcalcError, "whole number of outputs"),
    ("an unknown weights convention", lambda: tc.Dense(3, weights="row"),
     tc.UnknownNameError, "'out_in', 'in_out'"),
    ("a loss scale that is not positive", lambda: tc.Loss("squared_error", scale=0),
     tc.TensorcalcError, "positive number"),
    ("an unknown loss reduction", lambda: tc.Loss("nll", reduction="max"),
     tc.UnknownNameError, "'mean', 'sum'"),
    ("binary cross-entropy after a softmax output",
     lambda: tc.Network.random([2, 2], output="softmax", loss="binary_cross_entropy"),
     tc.TensorcalcError, "must be 'sigmoid'"),
    ("a single-output hinge target that is not a sign", lambda: tc.hinge(np.array([0.5]), 0.5),
     tc.InvalidInputError, "-1 or +1"),
    ("an unknown kind in a one-line layer spec",
     lambda: tc.Network.stack("dense 4, lstm 3", input_shape=(2,)),
     tc.UnknownNameError, "valid kinds are"),
    ("a convolution kernel larger than the padded input",
     lambda: tc.Network.stack([tc.Conv2d(2, 5)], input_shape=(1, 3, 3)),
     tc.ShapeMismatchError, "layer 1 (conv2d): the kernel (5, 5)"),
    ("a convolution stride below 1", lambda: tc.Conv2d(2, 3, stride=0),
     tc.TensorcalcError, "stride must be an int >= 1"),
    ("a negative convolution padding", lambda: tc.Conv1d(2, 3, padding=-1),
     tc.TensorcalcError, "padding must be an int >= 0"),
    ("a convolution after a flatten",
     lambda: tc.Network.stack([tc.Flatten(), tc.Conv2d(2, 3)], input_shape=(1, 4, 4)),
     tc.ShapeMismatchError, "layer 2 (conv2d): a convolution takes (C, L) or (C, H, W)"),
    ("a kernel whose channels do not match the input",
     lambda: tc.Network.stack([tc.Conv2d(2, 3)], input_shape=(2, 4, 4),
                              params={"K1": np.ones((2, 3, 3, 3)), "b1": np.zeros(2)}),
     tc.ShapeMismatchError, "K1 must have shape (2, 2, 3, 3) for layer 1 (conv2d)"),
    ("dense backprop above the memory limit",
     lambda: tc.backprop(tc.Network.random([3000, 3000, 1]), np.ones(3000), np.ones(1),
                         "dense"),
     tc.MemoryLimitError, "Contract it first"),
    ("a group norm whose groups do not divide the channels",
     lambda: tc.Network.stack([tc.GroupNorm(4)], input_shape=(6, 2, 2)),
     tc.ShapeMismatchError, "6 is not a multiple of 4"),
    ("batch norm over channels on one sample",
     lambda: tc.Network.stack([tc.BatchNorm2d()], input_shape=(2, 3, 3))(np.ones((2, 3, 3))),
     tc.InvalidInputError, "needs a batch"),
    ("a layer check whose inputs do not fit the reference",
     lambda: tc.check_vjp(tc.Dense(2), {"x": np.ones((3, 4))}, np.ones((3, 2)),
                          {"x": np.ones((3, 4))}),
     tc.TensorcalcError, "takes the input and then 2 parameters (W1, b1)"),
    ("a layer check given gradients of names that are not inputs",
     lambda: tc.check_vjp(tc.Activation("relu"), {"x": np.ones((2, 3))}, np.ones((2, 3)),
                          {"dx": np.ones((2, 3))}),
     tc.TensorcalcError, "which are not inputs"),
    ("a Hessian by a parameter the network does not have",
     lambda: tc.hessian(NET, X, Y, wrt=("W1", "W9")),
     tc.UnknownNameError, "wrt must be a parameter name, a pair of them or None"),
    ("a Hessian-vector product with a direction of the wrong shape",
     lambda: tc.hvp(NET, X, Y, {"W1": np.ones((3, 4))}),
     tc.ShapeMismatchError, "v['W1'] has shape (3, 4); W1 has shape (4, 3)"),
    ("Hessian parts of a layer without structured parts",
     lambda: tc.hessian_parts(scaled_network(), np.ones(2), np.zeros(2), "W1"),
     tc.TensorcalcError, "layer 2 (Scale) has no structured second-order parts"),
    ("a gradient the result does not hold",
     lambda: tc.backprop(NET, X, Y)["W9"], tc.UnknownNameError, "these gradients are W1"),
    ("more indices than a derivative has axes",
     lambda: tc.backprop(NET, X, Y)["W1"][0, 0, 0],
     tc.ShapeMismatchError, "too many indices"),
    ("the diagonal of a derivative that is not square",
     lambda: tc.jacobian(NET, X, wrt="W1").diagonal(),
     tc.ShapeMismatchError, "needs a square derivative"),
]


@pytest.mark.parametrize("what,call,error,phrase", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(what, call, error, phrase):
    with pytest.raises(error) as info:
        call()
    assert phrase in str(info.value)
    assert isinstance(info.value, tc.TensorcalcError) and isinstance(info.value, ValueError)


def test_every_row_is_documented():
    table = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text()
    for what, _, error, _ in ROWS:
        assert f"| {what} | `{error.__name__}` |" in table, what


def test_integer_and_boolean_input_is_cast_to_float64():
    fw = NET.forward(np.array([1, 0, 2]))
    assert fw.a[0].dtype == np.float64
    np.testing.assert_allclose(fw.output, NET.forward(np.array([1.0, 0.0, 2.0])).output)
    net = tc.Network.from_params({"W1": np.array([[1, 2], [3, 4]])}, output="identity")
    assert net.dtype == np.float64


def test_inputs_are_never_modified():
    rng = np.random.default_rng(0)
    params = {k: v.copy() for k, v in NET.params.items()}
    x, y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 2))
    x0, y0 = x.copy(), y.copy()
    x.flags.writeable = False  # read-only input must work too
    for method in tc.METHODS:
        tc.backprop(NET, x, y, method)
    tc.compare(NET, x, y)
    tc.explain(NET, x, y, "W1")
    tc.jacobian(NET, x, wrt="W1")
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    for k, v in NET.params.items():
        np.testing.assert_array_equal(v, params[k])
    raw = {"W1": np.ones((4, 3)), "b1": np.zeros(4)}
    tc.Network.from_params(raw)
    assert raw["W1"].flags.writeable and np.all(raw["W1"] == 1)


def _huge_logits_net(output, loss):
    net = tc.Network.random([3, 4, 3], hidden="tanh", output=output, loss=loss, seed=0)
    params = dict(net.params)
    params["W2"] = params["W2"] * 1000.0 / np.abs(params["W2"]).max()
    return tc.Network.from_params(params, hidden="tanh", output=output, loss=loss)


@pytest.mark.parametrize("output,loss", [("identity", "nll"), ("softmax", "cross_entropy"),
                                         ("sigmoid", "squared_error"),
                                         ("softmax", "squared_error")])
def test_logits_of_magnitude_1000_stay_finite_and_agree(output, loss):
    net = _huge_logits_net(output, loss)
    x = np.array([0.5, -0.3, 0.8])
    logits = net.forward(x).z[-1]
    assert np.abs(logits).max() > 300
    target = int(np.argmax(logits)) if loss != "squared_error" else np.array([1.0, 0.0, 1.0])
    assert np.isfinite(net.loss(x, target))
    report = tc.compare(net, x, target, methods=("full", "dense", "shortcut"))
    assert report.ok, str(report)
    for g in report.results.values():
        assert all(np.all(np.isfinite(d.dense())) for d in g.values())


def test_primitives_at_magnitude_1000():
    z = np.array([1000.0, -1000.0, 0.0])
    for prim in (tc.softmax, tc.log_softmax, tc.sigmoid, tc.softplus, tc.tanh):
        assert np.all(np.isfinite(prim(z))), prim.name
        assert np.all(np.isfinite(prim.derivative(z).dense())), prim.name
    assert np.isfinite(tc.nll(z, 1)) and tc.nll(z, 1) == pytest.approx(2000.0)
    np.testing.assert_allclose(tc.nll.derivative(z, 1).dense(), [1.0, -1.0, 0.0], atol=1e-300)


@settings(max_examples=40)
@given(tcs.networks(max_width=8, max_batch=4, dtype=np.float32))
def test_float32_end_to_end(case):
    net, x, y = case
    assert net.forward(x).output.dtype == np.float32
    report = tc.compare(net, x, y)
    full = report.results["full"]
    assert all(d.dtype == np.float32 for d in full.values())
    assert report.ok, str(report)


def test_parameters_are_read_only_and_with_param_replaces_one():
    with pytest.raises(TypeError):
        NET.params["W1"] = np.zeros((4, 3))
    with pytest.raises(ValueError):
        NET.params["W1"][0, 0] = 1.0
    changed = NET.with_param("W1", np.zeros((4, 3)))
    assert np.all(changed.params["W1"] == 0) and not np.all(NET.params["W1"] == 0)
    grads = tc.backprop(NET, X, Y).arrays()
    grads["W1"] -= 0.1  # plain arrays the caller may change


def test_derivatives_do_not_share_memory_with_caller_arrays():
    W, a = np.ones((4, 3)), np.arange(3.0)
    D = tc.linear.derivative(W, a, wrt="W")
    a[:] = 0.0
    np.testing.assert_array_equal(D.compact, [0.0, 1.0, 2.0])


def test_partial_biases_are_reported():
    net = tc.Network.from_params({"W1": np.ones((4, 3)), "W2": np.ones((2, 4)),
                                  "b2": np.zeros(2)})
    assert not net.bias and "bias=layers [2]" in repr(net)
    g = tc.backprop(net, X, Y)
    assert list(g) == ["W1", "W2", "b2"]


@pytest.mark.parametrize("method", ["full", "dense", "shortcut", "numeric"])
def test_float32_gradients_stay_float32_for_every_method(method):
    net = tc.Network.random([3, 4, 2], dtype=np.float32)
    g = tc.backprop(net, np.ones(3, np.float32), np.array([1.0, 0.0], np.float32), method)
    assert {d.dtype for d in g.values()} == {np.dtype(np.float32)}
    assert {d.dense().dtype for d in g.values()} == {np.dtype(np.float32)}
    assert tc.Derivative.identity((2,), dtype=np.float32).dense().dtype == np.float32
