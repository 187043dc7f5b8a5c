"""Diagnosis lines of check_layer that depend on the reference: routing advice only for layers
that route their input, kink advice only for activations, the batch-axis sum for a bias, the
transpose of a gradient named as such, a term left out said to be there 0 times."""

import numpy as np
import pytest
from students import layer_bugs as lb
from students import layer_functions as lf

import tensorcalc as tc

RNG = np.random.default_rng(77)
ACCUMULATE = "assigned where it must accumulate"
KINK = "relu'(0)"


def affine_inputs(d=3, m=5):
    return {"x": RNG.normal(size=(4, d)), "w": RNG.normal(size=(d, m)), "b": RNG.normal(size=m)}


def lines(report):
    return report.problems + report.diagnosis


@pytest.mark.parametrize("backward,what", [
    (lb.affine_backward_bias_first_row, "dout[0], one sample's row"),
    (lb.affine_backward_bias_mean, "the mean of dout over the batch"),
])
def test_a_bias_gradient_from_one_row_or_the_mean_is_told_to_sum_over_the_batch(backward, what):
    report = tc.check_layer(lf.affine_forward, backward, affine_inputs(),
                            reference=tc.Dense(5, weights="in_out"))
    assert report.wrong == ["db"]
    assert (f"db is {what}: a bias reaches every sample, so its gradient is the sum over the "
            f"batch axis: db = dout.sum(axis=0)") in report.diagnosis
    assert not any(ACCUMULATE in ln for ln in lines(report)), str(report)


def test_a_convolution_bias_from_one_sample_is_told_to_sum_over_batch_and_positions():
    inputs = {"x": RNG.normal(size=(2, 3, 5, 5)), "w": RNG.normal(size=(2, 3, 3, 3)),
              "b": RNG.normal(size=2)}
    report = tc.check_layer(lf.conv_forward_naive, lb.conv_backward_bias_first_sample, inputs,
                            {"stride": 1, "pad": 1}, reference=tc.Conv2d(2, 3, padding=1))
    assert report.wrong == ["db"]
    assert any("db is dout[0], one sample's row" in ln and "db = dout.sum(axis=(0, 2, 3))" in ln
               for ln in report.diagnosis), str(report)
    assert not any(ACCUMULATE in ln for ln in lines(report)), str(report)


@pytest.mark.parametrize("backward", [lb.dropout_backward_unscaled, lf.dropout_backward_keep_p])
def test_a_dropout_scale_mismatch_gets_no_routing_advice(backward):
    x = RNG.normal(size=(20, 8))
    report = tc.check_layer(lf.dropout_forward, backward, {"x": x},
                            {"p": 0.75, "mode": "train", "seed": 3}, reference=tc.Dropout(0.75))
    assert report.wrong == ["dx"]
    ratio = 0.25 if backward is lb.dropout_backward_unscaled else 1 / 3
    assert f"dx: yours is {ratio:.3f}x the expected" in report.diagnosis[0]
    assert not any(ACCUMULATE in ln for ln in lines(report)), str(report)
    named = any("1 - p = 0.25" in ln and "dout * mask / (1 - p)" in ln for ln in lines(report))
    assert named == (backward is lb.dropout_backward_unscaled), str(report)


def test_a_dropout_forward_without_its_scale_is_named():
    def forward(x, param):
        keep = np.random.default_rng(param["seed"]).uniform(size=x.shape) >= param["p"]
        return x * keep, keep

    def backward(dout, keep):
        return dout * keep

    x = RNG.normal(size=(20, 8))
    report = tc.check_layer(forward, backward, {"x": x}, {"p": 0.4, "seed": 1},
                            reference=tc.Dropout(0.4))
    assert any("your kept entries are not scaled" in ln and "1/(1-p) = 1.66667" in ln
               for ln in lines(report)), str(report)


def test_routing_advice_stays_for_max_pooling_and_embeddings():
    x = RNG.normal(size=(1, 2, 5, 5))
    x[:, :, 2, 2] = 10.0  # the maximum of four overlapping 3x3 windows
    pool = {"pool_height": 3, "pool_width": 3, "stride": 2}
    report = tc.check_layer(lf.max_pool_forward_naive, lf.max_pool_backward_first_not_accumulate,
                            {"x": x}, pool, reference=tc.MaxPool2d(3, 2))
    assert any(ACCUMULATE in ln for ln in report.diagnosis), str(report)


def test_a_transposed_gradient_of_another_shape_is_told_to_transpose_not_reshape():
    report = tc.check_layer(lf.affine_forward, lb.affine_backward_dw_transposed, affine_inputs(),
                            reference=tc.Dense(5, weights="in_out"))
    (problem,) = report.problems
    assert problem == ("dw has shape (5, 3); your input w has shape (3, 5). It is the expected "
                       "dw transposed: return dw.T, or build it the other way round (x.T @ "
                       "dout, where dout.T @ x gives the transpose).")


def test_a_same_size_gradient_that_is_not_a_transpose_still_gets_the_reshape_advice():
    x, w = RNG.normal(size=(4, 6)), RNG.normal(size=(6, 2))
    dout = RNG.normal(size=(4, 2))
    report = tc.check_vjp(tc.Dense(2, weights="in_out"), {"x": x, "w": w, "b": np.zeros(2)},
                          dout, {"w": (x.T @ dout).reshape(2, 6)})
    (problem,) = report.problems
    assert "right number of entries" in problem and ".reshape(6, 2)" in problem
    assert "transposed" not in problem


def test_a_transposed_shape_with_wrong_values_is_not_told_to_reshape():
    x, w = RNG.normal(size=(4, 6)), RNG.normal(size=(6, 2))
    dout = RNG.normal(size=(4, 2))
    report = tc.check_vjp(tc.Dense(2, weights="in_out"), {"x": x, "w": w, "b": np.zeros(2)},
                          dout, {"w": 2 * (x.T @ dout).T})
    (problem,) = report.problems
    assert "Its shape is w's transposed: dw.T has the right shape" in problem
    assert ".reshape(" not in problem


def test_a_max_pool_tie_routed_to_the_last_maximum_gets_tie_advice_not_kink_advice():
    x = np.maximum(RNG.normal(size=(1, 1, 4, 4)), 0.5)
    x[0, 0, :2, :2] = 0.0  # a window of tied zeros, as a ReLU leaves them
    x[0, 0, 2:, 2:] = 0.7  # and one of tied non-zero maxima
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    report = tc.check_layer(lf.max_pool_forward_naive, lb.max_pool_backward_last_tie, {"x": x},
                            pool, reference=tc.MaxPool2d(2, 2))
    assert report.wrong == ["dx"]
    assert not any(KINK in ln or ACCUMULATE in ln for ln in report.diagnosis), str(report)
    assert any(ln.startswith("dx is wrong only at entries of x that tie with another entry")
               and "the first (np.argmax, as torch does)" in ln for ln in report.diagnosis)


def test_the_kink_advice_stays_for_relu():
    x = RNG.normal(size=(3, 4))
    x[0, 1] = x[2, 2] = 0.0
    report = tc.check_layer(lf.relu_forward, lf.relu_backward_at_zero_one, {"x": x},
                            reference=tc.Activation("relu"))
    assert any("only where x is exactly 0 (2 entries)" in ln and KINK in ln
               for ln in report.diagnosis)


@pytest.mark.parametrize("seed", range(4))
def test_a_term_left_out_is_there_0_times(seed):
    inputs = {"x": RNG.normal(size=(5, 3)) * 2 + 1, "gamma": 1 + 0.3 * RNG.normal(size=3),
              "beta": RNG.normal(size=3)}
    report = tc.check_layer(lf.batchnorm_forward, lb.batchnorm_backward_no_variance_term,
                            inputs, {"mode": "train"}, reference=tc.BatchNorm(), seed=seed)
    assert report.wrong == ["dx"]
    (line,) = [ln for ln in report.diagnosis if "one term" in ln]
    assert line.endswith(": yours has it 0 times, it is left out"), line
