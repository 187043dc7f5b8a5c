"""The layer-function assignment end to end: every function of tests/students/layer_functions.py
(written apart from the library) checked by check_layer against the registry layer it
implements; each planted bug is caught with its one-line diagnosis and a reproducer."""

import numpy as np
import pytest
from students import layer_functions as lf

import tensorcalc as tc

RNG = np.random.default_rng(2024)


def conv_inputs(pad=1):
    return ({"x": RNG.normal(size=(2, 3, 5, 5)), "w": RNG.normal(size=(2, 3, 3, 3)),
             "b": RNG.normal(size=2)}, ({"stride": 1, "pad": pad},))


def bn_inputs(n=6, d=4):
    return {"x": RNG.normal(size=(n, d)) * 2 + 1, "gamma": 1 + 0.3 * RNG.normal(size=d),
            "beta": RNG.normal(size=d)}


POOL = {"pool_height": 3, "pool_width": 3, "stride": 2}


def overlapping_max_input():
    """A 5x5 map whose largest entry sits where 3x3 windows with stride 2 overlap."""
    x = RNG.normal(size=(1, 2, 5, 5))
    x[:, :, 2, 2] = 10.0
    return x


CASES = {
    "affine": (lf.affine_forward, lf.affine_backward,
               lambda: ({"x": RNG.normal(size=(3, 2, 3)), "w": RNG.normal(size=(6, 4)),
                         "b": RNG.normal(size=4)}, ()),
               [tc.Flatten(), tc.Dense(4, weights="in_out")]),
    "relu": (lf.relu_forward, lf.relu_backward, lambda: ({"x": RNG.normal(size=(4, 5))}, ()),
             tc.Activation("relu")),
    "batchnorm": (lf.batchnorm_forward, lf.batchnorm_backward,
                  lambda: (bn_inputs(), ({"mode": "train"},)), tc.BatchNorm()),
    "batchnorm_alt": (lf.batchnorm_forward, lf.batchnorm_backward_alt,
                      lambda: (bn_inputs(), ({"mode": "train"},)), tc.BatchNorm()),
    "layernorm": (lf.layernorm_forward, lf.layernorm_backward,
                  lambda: (bn_inputs(), ({},)), tc.LayerNorm()),
    "dropout": (lf.dropout_forward, lf.dropout_backward,
                lambda: ({"x": RNG.normal(size=(8, 10))}, ({"p": 0.3, "mode": "train",
                                                           "seed": 7},)),
                tc.Dropout(0.3)),
    "conv": (lf.conv_forward_naive, lf.conv_backward_naive, conv_inputs,
             tc.Conv2d(2, 3, padding=1)),
    "max_pool": (lf.max_pool_forward_naive, lf.max_pool_backward_naive,
                 lambda: ({"x": overlapping_max_input()}, (POOL,)), tc.MaxPool2d(3, 2)),
}


@pytest.mark.parametrize("name", CASES)
def test_every_correct_layer_function_passes_against_its_registry_layer(name):
    forward, backward, make, reference = CASES[name]
    inputs, args = make()
    report = tc.check_layer(forward, backward, inputs, *args, reference=reference)
    assert report.ok, str(report)
    assert report.checks["out"].ok and not report.warnings


@pytest.mark.parametrize("name", ["affine", "relu", "batchnorm", "conv"])
def test_and_against_central_differences_without_a_reference(name):
    forward, backward, make, _ = CASES[name]
    inputs, args = make()
    report = tc.check_layer(forward, backward, inputs, *args)
    assert report.ok, str(report)


def _diagnosed(report, text):
    assert not report.ok, str(report)
    every = report.problems + report.diagnosis
    assert any(text in line for line in every), str(report)
    return report


def test_conv_backward_with_a_pad_slice_returns_an_empty_dx_at_pad_0():
    inputs, args = conv_inputs(pad=0)
    ref = tc.Conv2d(2, 3)
    assert tc.check_layer(lf.conv_forward_naive, lf.conv_backward_naive, inputs, *args,
                          reference=ref).ok
    report = tc.check_layer(lf.conv_forward_naive, lf.conv_backward_naive_pad_slice, inputs,
                            *args, reference=ref)
    _diagnosed(report, "dx has shape (2, 3, 0, 0); your input x has shape (2, 3, 5, 5). "
                       "It is empty")


def test_max_pool_backward_that_assigns_is_told_to_accumulate():
    report = tc.check_layer(lf.max_pool_forward_naive, lf.max_pool_backward_first_not_accumulate,
                            {"x": overlapping_max_input()}, POOL, reference=tc.MaxPool2d(3, 2))
    _diagnosed(report, "assigned where it must accumulate")


def test_max_pool_backward_that_crashes_on_tied_maxima_names_them():
    x = np.maximum(RNG.normal(size=(2, 2, 5, 5)), 0)
    x[0, 0] = 0.0  # a map of zeros, as a ReLU leaves them
    report = tc.check_layer(lf.max_pool_forward_naive, lf.max_pool_backward_assign, {"x": x},
                            POOL, reference=tc.MaxPool2d(3, 2))
    _diagnosed(report, "tied maxima")
    assert "max_pool_backward_assign" in report.problems[0]


def test_dropout_with_a_keep_probability_is_named():
    report = tc.check_layer(lf.dropout_forward_keep_p, lf.dropout_backward_keep_p,
                            {"x": RNG.normal(size=(20, 10))}, {"p": 0.3, "seed": 1},
                            reference=tc.Dropout(0.3))
    _diagnosed(report, "your p is the keep probability")


def test_row_shaped_gamma_and_beta_gradients_are_shape_problems():
    report = tc.check_layer(lf.batchnorm_forward, lf.batchnorm_backward_row_params,
                            bn_inputs(), {"mode": "train"}, reference=tc.BatchNorm())
    _diagnosed(report, "dgamma has shape (1, 4); your input gamma has shape (4,)")
    assert any("dbeta has shape (1, 4)" in p for p in report.problems)


def test_a_backward_that_overwrites_dout_is_warned_about():
    for backward in (lf.affine_backward_inplace, lf.relu_backward_inplace):
        forward, _, make, reference = CASES["affine" if "affine" in backward.__name__
                                            else "relu"]
        inputs, args = make()
        report = tc.check_layer(forward, backward, inputs, *args, reference=reference)
        assert report.ok, str(report)
        assert any("modified dout in place" in w for w in report.warnings), backward.__name__
        assert not tc.check_layer(forward, backward, inputs, *args, reference=reference,
                                  strict=True).ok


def test_the_unbiased_variance_in_a_biased_batch_norm_is_named():
    report = tc.check_layer(lf.batchnorm_forward, lf.batchnorm_backward_unbiased,
                            bn_inputs(n=7), {"mode": "train"}, reference=tc.BatchNorm())
    _diagnosed(report, "N/(N-1): the variance taken with 1/(N-1) (unbiased)")


@pytest.mark.parametrize("backward, text", [
    (lf.affine_backward_sign, "the sign is flipped"),
    (lf.affine_backward_no_transpose, "transpose"),
])
def test_sign_and_transpose_are_named(backward, text):
    inputs = {"x": RNG.normal(size=(3, 4)), "w": RNG.normal(size=(4, 4)),
              "b": RNG.normal(size=4)}
    report = tc.check_layer(lf.affine_forward, backward, inputs,
                            reference=tc.Dense(4, weights="in_out"))
    _diagnosed(report, text)
    assert report.wrong == ["dw"]


def test_relu_prime_one_at_zero_is_caught_only_by_the_exact_reference():
    x = RNG.normal(size=(4, 5))
    x[1, 2] = x[3, 0] = 0.0
    report = tc.check_layer(lf.relu_forward, lf.relu_backward_at_zero_one, {"x": x},
                            reference=tc.Activation("relu"))
    _diagnosed(report, "differs only where x is exactly 0 (2 entries)")


def test_each_failing_report_rebuilds_itself():
    report = tc.check_layer(lf.conv_forward_naive, lf.conv_backward_naive_pad_slice,
                            *_flat(conv_inputs(pad=0)), reference=tc.Conv2d(2, 3))
    printed = []
    exec(report.reproducer, {"print": printed.append, **vars(lf)})
    assert str(printed[0]) == str(report)


def _flat(made):
    inputs, args = made
    return (inputs, *args)


@pytest.mark.parametrize("loss, reference, bad", [
    (lf.svm_loss, "hinge", None), (lf.softmax_loss, "nll", lf.softmax_loss_no_mean)])
def test_the_losses_against_the_registry(loss, reference, bad):
    x, y = RNG.normal(size=(5, 4)), RNG.integers(4, size=5)
    net = tc.Network.stack(["identity"], input_shape=(4,), loss=reference)
    value, dx = loss(x, y)
    g = tc.backprop(net, x, y, input_grad=True)
    assert np.isclose(value, g.loss, rtol=1e-12)
    np.testing.assert_allclose(dx, g["x"].dense(), rtol=1e-12, atol=1e-15)
    numeric = tc.check_gradients(lambda p: loss(p["x"], y)[0], {"x": x}, {"x": dx})
    assert numeric.ok, str(numeric)
    if bad is not None:
        report = tc.check_gradients(lambda p: bad(p["x"], y)[0], {"x": x}, {"x": bad(x, y)[1]})
        _diagnosed(report, "yours is 5.000x the expected")
