"""Bad arguments to the coursework checks and to the second-order products: never reshaped by
size, never a bare TypeError; each is a TensorcalcError (or, for the student's own code, a
problem in the report) that names the shapes and the fix. References are written out by hand."""

import numpy as np
import pytest
from students import layer_functions as lf

import tensorcalc as tc
from tensorcalc import strategies as tcs

RNG = np.random.default_rng(7)


def dense_case():
    """x (3, 4), an (out, in) weight for tc.Dense(5), and a dout."""
    return RNG.normal(size=(3, 4)), RNG.normal(size=(5, 4)), RNG.normal(size=5), \
        RNG.normal(size=(3, 5))


# ---------------------------------------------------------------- 1a: parameter shapes
def test_an_in_out_weight_against_an_out_in_dense_is_refused_naming_shapes_and_the_fix():
    x, W, b, dout = dense_case()
    with pytest.raises(tc.ShapeMismatchError) as err:
        tc.check_vjp(tc.Dense(5), {"x": x, "W": W.T, "b": b}, dout, {"W": dout.T @ x})
    text = str(err.value)
    for part in ("inputs['W'] has shape (4, 5)", "its W1 with shape (5, 4)", "tc.Dense(5)",
                 'weights="in_out"', "inputs['W'].T"):
        assert part in text, text


def test_the_same_weight_in_the_right_convention_matches_the_hand_written_gradient():
    x, W, b, dout = dense_case()
    for reference, held in ((tc.Dense(5), W), (tc.Dense(5, weights="in_out"), W.T)):
        grads = {"x": dout @ W, "W": dout.T @ x if held is W else x.T @ dout,
                 "b": dout.sum(axis=0)}
        assert tc.check_vjp(reference, {"x": x, "W": held, "b": b}, dout, grads).ok


def test_a_kernel_with_the_right_size_in_another_layout_is_refused():
    x = RNG.normal(size=(2, 3, 5, 5))
    inputs = {"x": x, "w": RNG.normal(size=(2, 3, 9)), "b": RNG.normal(size=2)}
    with pytest.raises(tc.ShapeMismatchError, match=r"inputs\['w'\] has shape \(2, 3, 9\).*"
                                                   r"\(2, 3, 3, 3\).*never reshaped"):
        tc.check_vjp(tc.Conv2d(2, 3), inputs, np.ones((2, 2, 3, 3)), {"x": x})


def test_parameters_held_with_singleton_axes_still_match_the_closed_form():
    x = RNG.normal(size=(6, 4))
    gamma, beta, dout = RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=(6, 4))
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    dx = gamma / np.sqrt(x.var(axis=0) + 1e-5) / 6 * (
        6 * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))
    grads = {"x": dx, "gamma": (dout * xhat).sum(axis=0, keepdims=True),
             "beta": dout.sum(axis=0, keepdims=True)}
    inputs = {"x": x, "gamma": gamma[None], "beta": beta[None]}
    report = tc.check_vjp(tc.BatchNorm(), inputs, dout, grads)
    assert report.ok, str(report)


# ---------------------------------------------------------------- 1b: dout shapes
def test_a_transposed_dout_is_refused_naming_both_shapes():
    x, W, b, dout = dense_case()
    with pytest.raises(tc.ShapeMismatchError) as err:
        tc.check_vjp(tc.Dense(5), {"x": x, "W": W, "b": b}, dout.T, {"x": dout @ W})
    assert "dout has shape (5, 3)" in str(err.value)
    assert "output has shape (3, 5)" in str(err.value)
    assert "dout.T" in str(err.value)


def test_check_layer_refuses_a_given_dout_of_another_shape_than_the_output():
    x = RNG.normal(size=(4, 6))
    for reference in (tc.Activation("relu"), None):
        with pytest.raises(tc.ShapeMismatchError, match=r"dout has shape \(6, 4\).*\(4, 6\)"):
            tc.check_layer(lf.relu_forward, lf.relu_backward, {"x": x}, reference=reference,
                           dout=RNG.normal(size=(6, 4)))


# ---------------------------------------------------------------- 2: output shapes
def test_a_forward_with_another_stride_than_the_reference_is_a_failing_report():
    inputs = {"x": RNG.normal(size=(2, 3, 5, 5)), "w": RNG.normal(size=(2, 3, 3, 3)),
              "b": RNG.normal(size=2)}
    report = tc.check_layer(lf.conv_forward_naive, lf.conv_backward_naive, inputs,
                            {"stride": 2, "pad": 1}, reference=tc.Conv2d(2, 3, padding=1))
    assert not report.ok
    (problem,) = report.problems
    assert "your forward output has shape (2, 2, 3, 3)" in problem
    assert "tc.Conv2d(2, 3, padding=1) gives shape (2, 2, 5, 5)" in problem
    assert "stride" in problem and "padding" in problem
    with pytest.raises(AssertionError, match="your forward output has shape"):
        tcs.assert_layer_matches(lf.conv_forward_naive, lf.conv_backward_naive, inputs,
                                 {"stride": 2, "pad": 1}, reference=tc.Conv2d(2, 3, padding=1))


def test_a_dropout_whose_output_changes_shape_is_a_failing_report():
    x = RNG.normal(size=(4, 6))
    report = tc.check_layer(lambda v: (v[:, :3], None), lambda d, c: np.zeros((4, 6)),
                            {"x": x}, reference=tc.Dropout(0.5))
    assert not report.ok
    assert "shape (4, 3)" in report.problems[0] and "shape (4, 6)" in report.problems[0]


# ---------------------------------------------------------------- 3: argument types
def test_inputs_given_as_a_list_say_inputs_are_a_dict_of_name_to_array():
    x = RNG.normal(size=(4, 5))
    with pytest.raises(tc.TensorcalcError, match=r"check_layer's inputs must be a dict of "
                                                 r"name -> array.*a list of 1"):
        tc.check_layer(lf.relu_forward, lf.relu_backward, [x],
                       reference=tc.Activation("relu"))
    with pytest.raises(tc.TensorcalcError, match="check_vjp's inputs must be a dict"):
        tc.check_vjp(tc.Activation("relu"), (x,), x, {"x": x})


# ---------------------------------------------------------------- 4: wording
def test_a_backward_that_returns_none_is_reported_as_such():
    x = RNG.normal(size=(4, 5))
    report = tc.check_layer(lf.relu_forward, lambda dout, cache: None, {"x": x},
                            reference=tc.Activation("relu"))
    assert not report.ok
    assert report.problems == ["backward returned None: it must return the gradients, dx (a "
                               "missing return statement?)."]
    inputs = {"x": RNG.normal(size=(3, 6)), "w": RNG.normal(size=(6, 4)),
              "b": RNG.normal(size=4)}
    report = tc.check_layer(lf.affine_forward,
                            lambda d, c: (*lf.affine_backward(d, c)[:2], None), inputs,
                            reference=tc.Dense(4, weights="in_out"))
    assert report.problems == ["backward returned None for db: return every gradient, one per "
                               "float input, in order: dx, dw, db."]


def test_a_reference_given_by_name_runs_and_is_spelled_as_source():
    x = RNG.normal(size=(4, 5))
    x[0, 0] = 0.0
    wrong = tc.check_layer(lf.relu_forward, lf.relu_backward_at_zero_one, {"x": x},
                           reference="relu")
    assert not wrong.ok and wrong.wrong == ["dx"]
    dout = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(0x64_6F_75_74,))
                                 ).standard_normal(x.shape)
    assert wrong.checks["dx"].expected == pytest.approx(0.0)  # relu'(0) = 0 at x[0, 0]
    assert wrong.checks["dx"].yours == pytest.approx(dout[0, 0])
    assert "reference=tc.Activation('relu')" in wrong.reproducer
    for name in ("relu", tc.Activation("relu")):
        assert tc.check_layer(lf.relu_forward, lf.relu_backward, {"x": x}, reference=name).ok
    assert tc.check_vjp("softmax", {"x": x}, dout, {"x": np.zeros_like(x)}).wrong == ["dx"]
    spelled = tc.testing.reference.spelled
    assert spelled([tc.Flatten(), "softmax"]) == "[tc.Flatten(), tc.Softmax()]"
    assert spelled(tc.Activation("leaky_relu", slope=0.2)) == (
        "tc.Activation('leaky_relu', slope=0.2)")
    with pytest.raises(tc.TensorcalcError, match=r"got 'rellu'.*Did you mean 'relu', "
                                                   r"that is tc.Activation\('relu'\)\?"):
        tc.check_layer(lf.relu_forward, lf.relu_backward, {"x": x}, reference="rellu")


def test_intermediates_check_names_the_layers_for_an_index_out_of_range():
    net = tc.Network.stack([tc.Dense(3), "tanh", tc.Dense(2)], input_shape=(2,),
                           loss="squared_error")
    x, y = np.ones((4, 2)), np.zeros((4, 2))
    with pytest.raises(tc.TensorcalcError) as err:
        tc.testing.intermediates_check({"dz": np.zeros((4, 2))}, net, x, y, at={99: "dz"})
    message = str(err.value)
    assert "[99], which are not in 1..3" in message and "1 Dense(3)" in message
    assert not isinstance(err.value, AssertionError)
