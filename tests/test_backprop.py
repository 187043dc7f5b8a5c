"""Backprop: full == dense == shortcut to rounding, all == finite differences; the report."""

import numpy as np
import pytest
from _agree import assert_exact_methods_agree, assert_full_matches_numeric
from hypothesis import given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs


@settings(max_examples=900)
@given(tcs.networks())
def test_full_dense_shortcut_agree_to_rounding(case):
    assert_exact_methods_agree(*case)


@settings(max_examples=150)
@given(tcs.networks(max_width=8, max_batch=4))
def test_full_matches_finite_differences(case):
    assert_full_matches_numeric(*case)


def test_seed003_network_by_hand():
    """Independent reference: the 3-4-2 sigmoid network's gradient written out in numpy."""
    net = tc.Network.random([3, 4, 2], hidden="sigmoid", output="sigmoid", seed=3)
    x, y = np.array([0.2, -0.5, 1.0]), np.array([1.0, 0.0])
    W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
    s = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    z1 = W1 @ x + b1
    a1 = s(z1)
    z2 = W2 @ a1 + b2
    a2 = s(z2)
    d2 = 2 * (a2 - y) * a2 * (1 - a2)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    g = tc.backprop(net, x, y)
    np.testing.assert_allclose(g["W2"].dense(), np.outer(d2, a1), rtol=1e-12)
    np.testing.assert_allclose(g["W1"].dense(), np.outer(d1, x), rtol=1e-12)
    np.testing.assert_allclose(g["b1"].dense(), d1, rtol=1e-12)
    assert g.loss == pytest.approx(np.sum((a2 - y) ** 2))


def test_batch_gradient_is_mean_of_sample_gradients():
    net = tc.Network.random([3, 5, 4], hidden="tanh", output="softmax", loss="cross_entropy")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    batch = tc.backprop(net, X, Y)
    for name in net.params:
        per_sample = [tc.backprop(net, X[n], Y[n])[name].dense() for n in range(6)]
        np.testing.assert_allclose(batch[name].dense(), np.mean(per_sample, axis=0), rtol=1e-12)
    assert batch.loss == pytest.approx(np.mean([net.loss(X[n], Y[n]) for n in range(6)]))


def test_full_never_builds_the_3_tensor_but_dense_does():
    net = tc.Network.random([30, 40, 5], seed=1)
    x, y = np.ones(30), np.zeros(5)
    full, dense = tc.backprop(net, x, y, "full"), tc.backprop(net, x, y, "dense")
    assert full.largest_bytes <= 40 * 30 * 8
    assert dense.largest_bytes == 40 * 40 * 30 * 8


def test_dense_refuses_before_allocating():
    net = tc.Network.random([2000, 2000, 2], seed=0)
    with pytest.raises(tc.MemoryLimitError, match="bytes"):
        tc.backprop(net, np.zeros(2000), np.zeros(2), "dense")


def test_trace_records_each_step():
    net = tc.Network.random([3, 4, 2], seed=0)
    g = tc.backprop(net, np.ones(3), np.zeros(2))
    targets = [s.target for s in g.trace]
    assert targets == ["delta^2", "dC/dW^2", "dC/db^2", "delta^1", "dC/dW^1", "dC/db^1"]
    step = g.trace[3]
    assert [p.kind for p in step.parts] == ["gradient", "jacobian", "jacobian"]
    assert step.result.spec == "i,ij,j->j"


def test_unknown_method():
    net = tc.Network.random([2, 2])
    with pytest.raises(tc.UnknownNameError, match="'shortcut'"):
        tc.backprop(net, np.ones(2), np.ones(2), method="magic")


def test_compare_report_reads_well_and_flags_a_wrong_method(monkeypatch):
    net = tc.Network.random([3, 4, 2], seed=0)
    x, y = np.ones(3), np.zeros(2)
    report = tc.compare(net, x, y)
    assert report.ok
    text = str(report)
    for piece in ("W1", "scalar-by-matrix", "(4, 3)", "shortcut vs full", "numeric vs full",
                  "largest tensor", "all methods agree"):
        assert piece in text
    # a planted bug that only the shortcut's Hadamard rule sees
    monkeypatch.setattr(tc.Elementwise, "hadamard", lambda self, up, z: up * self.prime(z) * 1.001)
    bad = tc.compare(net, x, y)
    assert not bad.ok
    assert not bad.rows[0].ok["shortcut"] and bad.rows[0].ok["dense"]
    assert "MISMATCH" in str(bad)


def test_compare_lists_a_refused_dense_method():
    net = tc.Network.random([300, 300, 2], seed=0)
    old = tc.set_dense_limit(10**6)
    try:
        report = tc.compare(net, np.zeros(300), np.zeros(2), methods=("full", "dense", "shortcut"))
    finally:
        tc.set_dense_limit(old)
    assert report.ok and "dense" in report.refused and "refused" in str(report)


def test_explain_shows_every_step_for_a_parameter():
    net = tc.Network.random([3, 4, 4, 2], hidden="tanh", seed=0)
    text = str(tc.explain(net, np.ones(3), np.zeros(2), "W1"))
    assert text.count("step ") == 4
    for piece in ("delta^3", "delta^2 = (W^3T delta^3) (.) tanh'(z^2)", "einsum:",
                  "dC/dW^1 = delta^1 a^0T", "vector-by-matrix", "sum_"):
        assert piece in text
    with pytest.raises(tc.UnknownNameError, match="W1, b1"):
        tc.explain(net, np.ones(3), np.zeros(2), "W9")


def test_compiled_plan_replays_the_same_chain():
    from tensorcalc.backprop import _PLANS

    _PLANS.clear()
    rng = np.random.default_rng(5)
    first = tc.Network.random([4, 6, 3], hidden="tanh", output="softmax",
                              loss="cross_entropy", seed=1)
    second = tc.Network.random([4, 6, 3], hidden="tanh", output="softmax",
                               loss="cross_entropy", seed=2)
    x1, x2 = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    y = np.array([0, 2, 1, 1, 0])
    traced = tc.backprop(first, x1, y)  # traces the chain and compiles a plan
    assert len(_PLANS) == 1
    replayed = tc.backprop(second, x2, y)  # same structure: replays the plan
    assert len(_PLANS) == 1
    shortcut = tc.backprop(second, x2, y, "shortcut")
    for name in second.params:
        np.testing.assert_allclose(replayed[name].dense(), shortcut[name].dense(), rtol=1e-12)
        assert replayed[name].kind == traced[name].kind
    assert [s.target for s in replayed.trace] == [s.target for s in traced.trace]
    last = replayed.trace[-1]
    np.testing.assert_allclose(last.result.dense(), replayed["b1"].dense(), rtol=1e-12)
    assert replayed.largest_bytes == traced.largest_bytes


def test_a_plan_is_not_shared_by_networks_with_other_names_or_type():
    """The same layers numbered another way (other parameter names) or in float32 compile
    their own plans: each gets its own names, values and type."""
    layers = [tc.Embedding(5, 1), tc.Flatten(), tc.Dense(2), "tanh", tc.Dense(2)]
    x, y = np.array([[0, 1], [2, 3], [4, 0]]), np.array([0, 1, 1])
    nets = [tc.Network.stack(layers, loss="nll", input_shape=(2,), seed=1, numbering="by_dense"),
            tc.Network.stack(layers, loss="nll", input_shape=(2,), seed=0),
            tc.Network.stack(layers, loss="nll", input_shape=(2,), seed=0, dtype=np.float32)]
    assert len({net.signature for net in nets}) == 3
    for net in nets:
        full, shortcut = tc.backprop(net, x, y), tc.backprop(net, x, y, "shortcut")
        assert list(full) == list(net.params)
        for name in net.params:
            assert full[name].dense().dtype == net.dtype
            np.testing.assert_allclose(full[name].dense(), shortcut[name].dense(), rtol=1e-5)
