"""The manual-backprop exercise end to end: tests/students/manual_backprop.py (written apart
from the library: an embedding, a linear layer, Bessel batch norm, tanh, a linear layer and
cross-entropy, 26 gradients by hand) checked without adapters."""

import tracemalloc

import numpy as np
import pytest
from students import manual_backprop as mb

import tensorcalc as tc
from tensorcalc import strategies as tcs

NAMES = {"C1": "C", "gamma1": "bngain", "beta1": "bnbias"}


def student_net(params, vocab=27, T=3, hidden=64):
    layers = [tc.Embedding(vocab, params["C"].shape[1]), tc.Flatten(),
              tc.Dense(hidden, weights="in_out"), tc.BatchNorm(unbiased=True), "tanh",
              tc.Dense(vocab, weights="in_out"), "softmax"]
    return tc.Network.stack(layers, loss="cross_entropy", input_shape=(T,), params=params,
                            names=NAMES, numbering="by_dense")


@pytest.fixture(scope="module")
def case():
    params, Xb, Yb = mb.make_case(seed=3)
    loss, cache = mb.forward(params, Xb, Yb)
    return params, Xb, Yb, loss, cache


def grad_names(net):
    return {k: "d" + NAMES.get(k, k) for k in net.params}


def test_the_students_network_is_the_same_function(case):
    params, Xb, Yb, loss, _ = case
    net = student_net(params)
    assert list(net.params) == ["C1", "W1", "b1", "gamma1", "beta1", "W2", "b2"]
    assert net.loss(Xb, Yb) == pytest.approx(loss, rel=1e-13)


def test_correct_manual_gradients_pass_in_the_students_names_and_shapes(case):
    params, Xb, Yb, _, cache = case
    net = student_net(params)
    grads = mb.manual_backward(params, Xb, Yb, cache)
    report = tcs.assert_gradients_match(grads, net, Xb, Yb, names=grad_names(net))
    assert report.ok and "bngain (1, 64)" in str(report)


def test_a_gain_gradient_in_the_layers_shape_is_refused_naming_both_shapes(case):
    params, Xb, Yb, _, cache = case
    net = student_net(params)
    grads = dict(mb.manual_backward(params, Xb, Yb, cache))
    grads["dbngain"] = grads["dbngain"].reshape(-1)
    with pytest.raises(AssertionError, match=r"bngain has shape \(64,\); your parameter bngain "
                                             r"has shape \(1, 64\)"):
        tcs.assert_gradients_match(grads, net, Xb, Yb, names=grad_names(net))


@pytest.mark.parametrize("bug, wrong, line", [
    (mb.manual_backward_stale_batch, ["C"], "a stale Xb"),
    (mb.manual_backward_assign_embedding, ["C"], "assigned where it must accumulate"),
])
def test_embedding_bugs_are_named(case, bug, wrong, line):
    params, Xb, Yb, _, cache = case
    net = student_net(params)
    report = tc.testing.gradient_check(bug(params, Xb, Yb, cache), net, Xb, Yb,
                                       names=grad_names(net))
    assert report.wrong == wrong
    assert any(line in d for d in report.diagnosis), str(report)
    assert "case.npz" in report.reproducer  # too many entries to print: loaded from a file


@pytest.mark.parametrize("bug, first_wrong", [
    (mb.manual_backward_biased_bn, "C"), (mb.manual_backward_tanh_wrong, "C")])
def test_deeper_bugs_fail(case, bug, first_wrong):
    params, Xb, Yb, _, cache = case
    net = student_net(params)
    report = tc.testing.gradient_check(bug(params, Xb, Yb, cache), net, Xb, Yb,
                                       names=grad_names(net))
    assert first_wrong in report.wrong


def test_the_closed_forms_against_the_registry(case):
    params, Xb, Yb, _, cache = case
    mine = mb.manual_backward(params, Xb, Yb, cache)
    dlogits = mb.closed_form_dlogits(cache["logits"], Yb)
    logits_net = tc.Network.stack(["identity"], input_shape=(27,), loss="nll")
    tcs.assert_gradients_match({"x": dlogits}, logits_net, cache["logits"], Yb,
                               check_input=True)
    dhprebn = mb.closed_form_dhprebn(cache["hprebn"], params["bngain"], mine["dhpreact"])
    inputs = {"x": cache["hprebn"], "gamma": params["bngain"], "beta": params["bnbias"]}
    report = tcs.assert_vjp_matches(tc.BatchNorm(unbiased=True), inputs, mine["dhpreact"],
                                    {"x": dhprebn})
    assert report.ok
    biased = tc.check_vjp(tc.BatchNorm(), inputs, mine["dhpreact"], {"x": dhprebn})
    assert not biased.ok and any("sqrt((N-1)/N): sigma from the unbiased variance" in d
                                  for d in biased.diagnosis), str(biased)


def test_the_embedding_keeps_no_vocabulary_sized_array_per_sample():
    vocab, N, T, dim = 50_000, 32, 3, 10
    net = tc.Network.stack([tc.Embedding(vocab, dim), tc.Flatten(), tc.Dense(16), "tanh",
                            tc.Dense(5), "softmax"], loss="cross_entropy", input_shape=(T,))
    rng = np.random.default_rng(0)
    x, y = rng.integers(vocab, size=(N, T)), rng.integers(5, size=N)
    tc.backprop(net, x, y)  # trace once
    tracemalloc.start()
    g = tc.backprop(net, x, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    one_hot = N * T * vocab * 8
    assert peak < one_hot / 4, (peak, one_hot)
    shortcut = tc.backprop(net, x, y, "shortcut")
    np.testing.assert_allclose(g["C1"].dense(), shortcut["C1"].dense(), rtol=1e-12, atol=1e-18)
