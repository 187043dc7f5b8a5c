"""Stacks of layers: every backprop method agrees on drawn stacks of every kind and loss, and
each option against an independent reference (closed forms written out here in numpy)."""

import numpy as np
import pytest
from _agree import assert_exact_methods_agree, assert_full_matches_numeric
from hypothesis import given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs


@settings(max_examples=200)
@given(tcs.stacks())
def test_full_dense_shortcut_agree_on_every_kind(case):
    assert_exact_methods_agree(*case)


@settings(max_examples=80)
@given(tcs.stacks(max_depth=3, max_width=5, max_batch=4))
def test_full_matches_finite_differences_on_every_kind(case):
    assert_full_matches_numeric(*case)


@settings(max_examples=30)
@given(tcs.stacks(max_depth=3, max_width=5, max_batch=4))
def test_explain_covers_every_parameter(case):
    net, x, y = case
    for name in net.params:
        text = str(tc.explain(net, x, y, name))
        assert f"dC/d{net.symbol(name)} = " in text and "einsum:" in text


def _bn_net(batch=5):
    net = tc.Network.stack([tc.Dense(4), tc.BatchNorm(), "tanh", tc.Dense(3)],
                           loss="squared_error", input_shape=(3,), seed=3)
    rng = np.random.default_rng(0)
    return net, rng.normal(size=(batch, 3)), rng.normal(size=(batch, 3))


def test_batch_norm_closed_form_backward_is_the_full_chain():
    """dx = (gamma / (N sigma)) (N dy - sum dy - x_hat sum(dy x_hat)), written out here."""
    net, x, y = _bn_net()
    fw = net.forward(x)
    bn = fw.records[1].ctx
    z, gamma = bn.x, net.params["gamma2"]
    mu, var = z.mean(0), z.var(0)
    sigma = np.sqrt(var + 1e-5)
    xhat = (z - mu) / sigma
    g = tc.backprop(net, x, y, "full")
    steps = {s.target: s for s in g.trace}
    dy = steps["dC/dy^2"].result.compact  # upstream gradient at the batch-norm output
    N = x.shape[0]
    dx = gamma / (N * sigma) * (N * dy - dy.sum(0) - xhat * (dy * xhat).sum(0))
    np.testing.assert_allclose(steps["delta^1"].result.compact, dx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g["gamma2"].dense(), (dy * xhat).sum(0), rtol=1e-12)
    np.testing.assert_allclose(g["beta2"].dense(), dy.sum(0), rtol=1e-12)
    jac = steps["delta^1"].parts[1]
    assert len(jac.terms) == 3 and jac.shape == (N, 4, N, 4)
    assert "sum of 3 terms" in jac.structure


def test_batch_norm_jacobian_is_never_stored_dense():
    net, x, y = _bn_net(batch=64)
    jac = [s for s in tc.backprop(net, x, y, "full").trace if s.target == "delta^1"][0].parts[1]
    stored = sum(f.array.size for t in jac.terms for f in t.factors)
    assert jac.nbytes_dense == 8 * (64 * 4) ** 2 and stored <= 4 * 64 * 4


def test_weight_decay_adds_2cW_to_weights_only():
    plain = tc.Network.stack([tc.Dense(4), "relu", tc.LayerNorm(), tc.Dense(2)],
                             input_shape=(3,), seed=5)
    decayed = tc.Network.stack(plain.layers, input_shape=(3,), params=dict(plain.params),
                               weight_decay=0.3)
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0])
    assert decayed.loss(x, y) == pytest.approx(
        plain.loss(x, y) + 0.3 * (np.sum(plain.params["W1"] ** 2)
                                  + np.sum(plain.params["W3"] ** 2)))
    base = tc.backprop(plain, x, y).arrays()
    for method in tc.METHODS:
        got = tc.backprop(decayed, x, y, method).arrays()
        for name, value in plain.params.items():
            extra = 2 * 0.3 * value if name.startswith("W") else 0.0
            tol = 1e-6 if method == "numeric" else 1e-12
            np.testing.assert_allclose(got[name], base[name] + extra, rtol=tol, atol=tol)
    text = str(tc.explain(decayed, x, y, "W1"))
    assert "dC/dW^1 = delta^1 a^0T + 0.6 W^1" in text


@pytest.mark.parametrize("loss", ["squared_error", "binary_cross_entropy", "hinge"])
def test_scale_and_sum_reduction_scale_the_gradient(loss):
    output = {"squared_error": ["tanh"], "binary_cross_entropy": ["sigmoid"], "hinge": []}[loss]
    layers = [tc.Dense(3), "tanh", tc.Dense(2)] + output
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3))
    y = {"hinge": np.array([0, 1, 1, 0]), "binary_cross_entropy": rng.uniform(size=(4, 2)),
         "squared_error": rng.normal(size=(4, 2))}[loss]
    nets = {opts: tc.Network.stack(layers, loss=tc.Loss(loss, *opts), input_shape=(3,), seed=2)
            for opts in [(1.0, "mean"), (0.5, "mean"), (1.0, "sum")]}
    base = tc.backprop(nets[1.0, "mean"], x, y).arrays()
    for (scale, reduction), net in nets.items():
        factor = scale * (4 if reduction == "sum" else 1)
        assert net.loss(x, y) == pytest.approx(factor * nets[1.0, "mean"].loss(x, y))
        for method in ("full", "shortcut"):
            got = tc.backprop(net, x, y, method).arrays()
            for name in base:
                np.testing.assert_allclose(got[name], factor * base[name], rtol=1e-12)


def test_in_out_weights_give_transposed_gradients():
    out_in = tc.Network.random([3, 5, 2], hidden="relu", output="softmax",
                               loss="cross_entropy", seed=4)
    layers = [tc.Dense(5, weights="in_out"), "relu", tc.Dense(2, weights="in_out"), "softmax"]
    params = {k: (v.T if k.startswith("W") else v) for k, v in out_in.params.items()}
    in_out = tc.Network.stack(layers, loss="cross_entropy", input_shape=(3,), params=params)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    ref = tc.backprop(out_in, x, y).arrays()
    for method in ("full", "dense", "shortcut"):
        got = tc.backprop(in_out, x, y, method).arrays()
        for name in ref:
            expected = ref[name].T if name.startswith("W") else ref[name]
            assert got[name].shape == in_out.params[name].shape
            np.testing.assert_allclose(got[name], expected, rtol=1e-12, atol=1e-15)
    same_seed = tc.Network.stack(layers, loss="cross_entropy", input_shape=(3,), seed=4)
    np.testing.assert_array_equal(same_seed.params["W1"], out_in.params["W1"].T)


def test_dropout_mask_is_fixed_by_seed_and_shape():
    from tensorcalc.layers.dropout import dropout_mask

    net = tc.Network.stack([tc.Dense(6), tc.Dropout(0.5, seed=7), tc.Dense(2)],
                           input_shape=(3,), seed=1)
    x = np.ones((4, 3))
    rec = net.forward(x).records[1]
    np.testing.assert_array_equal(rec.ctx.cache, dropout_mask((4, 6), 0.5, 7))
    np.testing.assert_array_equal(rec.ctx.y, rec.ctx.x * rec.ctx.cache)
    assert set(np.unique(rec.ctx.cache)) <= {0.0, 2.0}
    none = tc.Network.stack([tc.Dropout(0.0)], input_shape=(3,))
    np.testing.assert_array_equal(none(np.arange(3.0)), np.arange(3.0))


def test_residual_stack_backprops_in_steps_linear_in_depth():
    """24 residual blocks: each step contracts at most the terms of one local derivative, so
    the work (terms contracted) grows linearly with depth instead of as 2^depth."""
    def terms(depth):
        layers = [tc.Dense(8)] + [tc.Residual([tc.Dense(8), "tanh"]) for _ in range(depth)]
        net = tc.Network.stack(layers + [tc.Dense(2)], input_shape=(4,), seed=0)
        trace = tc.backprop(net, np.ones((3, 4)), np.zeros((3, 2))).trace
        return [len(s.result.terms) for s in trace]

    t12, t24 = terms(12), terms(24)
    assert max(t24) <= 3
    assert sum(t24) / sum(t12) < 2.2


def test_jacobian_through_residual_blocks_collapses_sums():
    layers = [tc.Dense(6)] + [tc.Residual([tc.Dense(6), "tanh"]) for _ in range(10)]
    net = tc.Network.stack(layers, input_shape=(3,), seed=0)
    x = np.random.default_rng(0).normal(size=3)
    J = tc.jacobian(net, x)
    assert len(J.terms) <= 2
    report = tc.check_derivative(J, net, x)
    assert report.ok, str(report)


def test_softmax_chain_costs_linear_memory():
    import tracemalloc

    n = 20_000
    z = np.random.default_rng(0).normal(size=n)
    J = tc.softmax.derivative(z)
    assert sum(f.array.size for f in J.factors) == 3 * n  # p three times, never n x n
    g = tc.Derivative.from_array(np.ones(n), (), (n,), of="C", wrt="p")
    tracemalloc.start()
    result = tc.chain(g, J).compact
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 * n * 8  # far below the n^2 * 8 = 3.2 GB of the dense Jacobian
    p = tc.softmax(z)
    np.testing.assert_allclose(result, p * (1 - p.sum()), atol=1e-15)


def test_jacobian_of_a_layer_by_index():
    net = tc.Network.stack([tc.Dense(4), "tanh", tc.LayerNorm(), tc.Dense(2)],
                           input_shape=(3,), seed=0)
    x = np.array([0.1, -0.4, 0.9])
    J = tc.jacobian(net, x, of=3, wrt="W1")
    report = tc.check_derivative(J, lambda W: net.with_param("W1", W).forward(x).records[2]
                                 .ctx.y, net.params["W1"])
    assert J.shape == (4, 4, 3) and report.ok, str(report)
    with pytest.raises(tc.TensorcalcError, match="derivative is zero"):
        tc.jacobian(net, x, of=1, wrt="W3")


def test_plots_of_stacks_mark_the_structure_of_sums(tmp_path):
    pytest.importorskip("matplotlib")
    J = tc.softmax.derivative(np.array([0.3, -0.2, 1.0]))
    from tensorcalc.plot import structure_mask

    assert structure_mask(J).all()  # the diagonal term and the dense term never cancel
    net, x, y = _bn_net(batch=3)
    fig = tc.plot_chain(tc.explain(net, x, y, "W1"))
    fig.savefig(tmp_path / "chain.png", dpi=40)
    assert (tmp_path / "chain.png").stat().st_size > 1000
    bn = [s for s in tc.backprop(net, x, y).trace if s.target == "delta^1"][0].parts[1]
    mask = structure_mask(bn)  # (N, D, N, D): zero off the feature diagonal only
    assert mask.sum() == 3 * 3 * 4 and mask.shape == (3, 4, 3, 4)


def test_compare_judges_a_gradient_that_is_zero_in_exact_arithmetic():
    """A bias before batch norm has gradient 0 exactly; the methods then differ only by
    rounding noise, which compare must not call a mismatch."""
    net = tc.Network.stack([tc.Dense(2), tc.BatchNorm(), tc.Dense(1, bias=False)],
                           input_shape=(1,), seed=0)
    x, y = np.array([[0.34558419], [0.82161814]]), np.array([[0.14415961], [0.94864945]])
    report = tc.compare(net, x, y)
    assert report.ok, str(report)
    assert np.max(np.abs(report.results["full"]["b1"].dense())) < 1e-12  # rounding noise


def test_batch_norm_with_the_bessel_corrected_variance():
    """unbiased=True divides the variance by N - 1: forward against numpy's ddof=1, the
    closed form's N/(N-1) term against the full chain, every method against the others."""
    net = tc.Network.stack([tc.Dense(4), tc.BatchNorm(unbiased=True), "tanh", tc.Dense(2)],
                           input_shape=(3,), seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    rec = net.forward(x).records[1]
    z, gamma, beta = rec.ctx.x, net.params["gamma2"], net.params["beta2"]
    expected = gamma * (z - z.mean(0)) / np.sqrt(z.var(0, ddof=1) + 1e-5) + beta
    np.testing.assert_allclose(rec.ctx.y, expected, rtol=1e-12)
    assert tc.compare(net, x, y).ok
    text = str(tc.explain(net, x, y, "W1"))
    assert "N/(N-1)" in text and "1/(N-1)" in text
    biased = tc.Network.stack([tc.Dense(4), tc.BatchNorm(), "tanh", tc.Dense(2)],
                              input_shape=(3,), params=dict(net.params))
    assert not np.allclose(tc.backprop(net, x, y)["W1"].dense(),
                           tc.backprop(biased, x, y)["W1"].dense())


def test_dropout_with_a_given_mask():
    mask = np.array([1.0, 0.0, 1.0, 1.0])
    layer = tc.Dropout(0.25, mask=mask)
    net = tc.Network.stack([tc.Dense(4), layer, tc.Dense(1)], input_shape=(2,), seed=0)
    x = np.random.default_rng(0).normal(size=(3, 2))
    rec = net.forward(x).records[1]
    np.testing.assert_allclose(rec.ctx.y, rec.ctx.x * mask / 0.75)  # shared by the batch
    assert tc.compare(net, x, np.zeros((3, 1))).ok
    assert "mask=<0/1 array (4,)>" in repr(layer)
    with pytest.raises(tc.TensorcalcError, match="0 \\(dropped\\) and 1 \\(kept\\)"):
        tc.Dropout(0.5, mask=[0.5, 1.0])
    with pytest.raises(tc.TensorcalcError, match="does not fit"):
        tc.Network.stack([tc.Dropout(0.5, mask=np.ones(3))], input_shape=(4,))(np.ones(4))


@pytest.mark.parametrize("method", tc.METHODS)
def test_the_gradient_by_the_input(method):
    net = tc.Network.stack([tc.Dense(4), "tanh", tc.BatchNorm(), tc.Residual([tc.Dense(4), "relu"]),
                            tc.Dense(2), "softmax"], loss="cross_entropy", input_shape=(3,),
                           seed=0)
    x, y = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    g = tc.backprop(net, x, y, method, input_grad=True)
    assert list(g) == [*net.params, "x"] and g["x"].shape == x.shape
    reference = tc.numerical_derivative(lambda v: net.loss(v, y), x).dense()
    tol = 1e-6 if method == "numeric" else 1e-7
    np.testing.assert_allclose(g["x"].dense(), reference, rtol=tol, atol=tol)
    assert "x" not in tc.backprop(net, x, y, method)
