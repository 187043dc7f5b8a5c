"""The coursework kit on student-style code: each planted bug class, in each convention, is
caught and diagnosed with the right line; the reproducer rebuilds the failing case; conventions,
check_gradients, the numeric budget and kinks."""

import numpy as np
import pytest
from hypothesis import find, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs
from tensorcalc.testing import gradient_check


def relu_backprop(params, X, Y, *, columns=False, in_out=False, bug=None):
    """A ReLU net with a sigmoid output and 1/2 squared error averaged over the batch, written
    as course notes write it, in the conventions asked for; ``bug`` plants one mistake."""
    X, Y = (X.T, Y.T) if columns else (X, Y)  # work with rows inside
    L = len([k for k in params if k.startswith("W")])
    W = {l: params[f"W{l}"].T if in_out else params[f"W{l}"] for l in range(1, L + 1)}
    b = {l: params[f"b{l}"].reshape(-1) for l in range(1, L + 1)}
    A, Z = [X], [None]
    for l in range(1, L + 1):
        Z.append(A[-1] @ W[l].T + b[l])
        A.append(1 / (1 + np.exp(-Z[-1])) if l == L else np.maximum(Z[-1], 0))
    N = X.shape[0]
    delta = (A[L] - Y) * A[L] * (1 - A[L])
    delta = delta * {"half": 2.0, "sign": -1.0}.get(bug, 1.0) / (1 if bug == "mean" else N)
    grads = {}
    for l in range(L, 0, -1):
        gW = delta.T @ A[l - 1]
        if bug == "transpose" and gW.shape[0] == gW.shape[1]:  # else a shape error says it
            gW = gW.T
        grads[f"W{l}"] = gW.T if in_out else gW
        gb = delta.sum(axis=0)
        grads[f"b{l}"] = gb[:, None] if columns else gb
        if l > 1:
            prime = (Z[l - 1] >= 0) if bug == "relu0" else (Z[l - 1] > 0)
            delta = (delta @ W[l]) * prime
    return grads


def _net(sizes=(3, 3, 2)):
    template = tc.Network.random(list(sizes), hidden="relu", output="sigmoid", seed=4)
    return tc.Network.stack(template.layers, loss=tc.Loss("squared_error", scale=0.5),
                            input_shape=(sizes[0],), params=dict(template.params))


X = np.random.default_rng(0).normal(size=(5, 3))
Y = np.random.default_rng(1).uniform(size=(5, 2))
CONVENTIONS = {"rows": {}, "columns": {"samples": "columns", "bias": "column"},
               "in_out": {"weights": "in_out"}}


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_a_correct_implementation_passes_in_every_convention(convention):
    options = CONVENTIONS[convention]
    fn = lambda p, x, y: relu_backprop(p, x, y, columns="samples" in options,  # noqa: E731
                                       in_out="weights" in options)
    tcs.assert_gradients_match(fn, _net(), X, Y, **(options or {"names": {}}))


@pytest.mark.parametrize("convention", list(CONVENTIONS))
@pytest.mark.parametrize("bug,line", [
    ("half", "2.000x the expected: a missing 1/2 factor"),
    ("mean", "5.000x the expected: a sum over the N = 5 samples"),
    ("sign", "the sign is flipped"),
    ("transpose", "the transpose of the expected"),
])
def test_each_planted_bug_is_caught_and_diagnosed(convention, bug, line):
    options = CONVENTIONS[convention] or {"names": {}}
    fn = lambda p, x, y: relu_backprop(p, x, y, columns="samples" in options,  # noqa: E731
                                       in_out="weights" in options, bug=bug)
    report = gradient_check(fn, _net(), X, Y, **options)
    assert not report.ok
    assert any(line in d for d in report.diagnosis), (bug, report.diagnosis)
    with pytest.raises(AssertionError) as info:
        tcs.assert_gradients_match(fn, _net(), X, Y, **options)
    text = str(info.value)
    assert all(name in text for name in report.wrong) and "rebuild this case:" in text


def test_relu_prime_at_zero_is_caught_with_a_kink_note():
    net = _net()
    params = dict(net.params)
    params["b1"] = np.array([0.0, 0.3, -0.2])
    params["W1"] = np.vstack([np.zeros(3), net.params["W1"][1:]])  # unit 1 sees z = 0 exactly
    net = net.with_params(params)
    fn = lambda p, x, y: relu_backprop(p, x, y, bug="relu0")  # noqa: E731
    report = gradient_check(fn, net, X, Y, names={})
    assert not report.ok and report.wrong[0] == "W1"
    assert any("relu'(0) = 0 by convention" in note for note in report.notes)


def test_in_out_weights_without_the_option_say_which_option():
    net = _net((3, 4, 2))
    fn = lambda p, x, y: relu_backprop(p, x, y, in_out=True)  # noqa: E731
    with pytest.raises(AssertionError, match="weights='in_out'"):
        gradient_check(lambda n, x, y: fn({k: (v.T if k[0] == "W" else v)
                                            for k, v in n.params.items()}, x, y), net, X, Y)


def test_a_bug_is_shrunk_and_its_reproducer_rebuilds_the_case():
    nets = tcs.networks(hidden="relu", pairing=("sigmoid", "squared_error"), bias=True,
                        max_batch=4)

    def wrong(case):
        net, x, y = case
        if x.ndim == 1 or len(net.sizes) < 3:
            return False
        loss = tc.Loss("squared_error", scale=0.5)
        half = tc.Network.stack(net.layers, loss=loss, input_shape=net.input_shape,
                                params=dict(net.params))
        return not tcs.gradients_match(
            lambda p, a, b: relu_backprop(p, a, b, bug="mean"), half, x, y, names={})

    net, x, y = find(nets, wrong, settings=settings(derandomize=True, database=None))
    assert net.sizes == [1, 1, 1] and x.shape[0] == 2  # the smallest case that shows it
    snippet = gradient_check(lambda n, a, b: {k: 2 * v.dense() for k, v in
                                              tc.backprop(n, a, b).items()}, net, x, y).reproducer
    scope = {}
    exec(snippet, scope)
    for k, v in net.params.items():
        np.testing.assert_array_equal(scope["net"].params[k], v)
    np.testing.assert_array_equal(scope["x"], x)
    np.testing.assert_array_equal(scope["y"], y)
    assert repr(scope["net"]) == repr(net)


def test_readable_error_where_the_expected_entry_is_zero():
    net = _net()
    fn = lambda n, x, y: {k: v.dense() + (1.0 if k == "b2" else 0.0)  # noqa: E731
                          for k, v in tc.backprop(n, x, y).items()}
    check = gradient_check(fn, net, X, Y).checks["b2"]
    assert not check.ok and check.rel_error < 1e6  # never a ratio to an expected 0


def test_from_params_reads_a_students_convention():
    net = _net((3, 4, 2))
    mine = {"w1": net.params["W1"].T, "b1": net.params["b1"][:, None], "w2": net.params["W2"].T,
            "b2": net.params["b2"][:, None]}
    back = tc.Network.from_params(mine, hidden="relu", output="sigmoid", weights="in_out",
                                  bias="column", names={"W1": "w1", "W2": "w2"})
    for k, v in net.params.items():
        np.testing.assert_array_equal(back.params[k], v)


def test_check_gradients_lists_every_wrong_parameter_and_notes_a_kink():
    def loss(p):
        scores = p["W"] @ p["x"]
        return float(np.sum(np.maximum(0, scores - scores[0] + 1)[1:]) + 0.1 * np.sum(p["W"] ** 2))

    W, x = np.array([[1.0, 0.5], [0.2, -0.3], [0.4, 0.9]]), np.array([1.0, 2.0])
    scores = W @ x
    active = (scores - scores[0] + 1 > 0)[1:].astype(float)
    dscores = np.concatenate([[-active.sum()], active])
    good = {"W": np.outer(dscores, x) + 0.2 * W, "x": W.T @ dscores}
    assert tc.check_gradients(loss, {"W": W, "x": x}, good).ok
    bad = tc.check_gradients(loss, {"W": W, "x": x}, {"W": -good["W"], "x": 0 * good["x"]})
    assert bad.wrong == ["W", "x"]
    assert any("sign is flipped" in d for d in bad.diagnosis)
    assert any("yours is zero" in d for d in bad.diagnosis)
    at_kink = {"W": np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.0]]), "x": np.array([1.0, 0.0])}
    report = tc.check_gradients(loss, at_kink, {"W": np.zeros((3, 2)), "x": np.zeros(2)})
    assert report.notes and "kink" in report.notes[0]


def test_compare_leaves_numeric_out_above_its_budget_and_excuses_kinks():
    big = tc.Network.random([150, 150, 2], seed=0)
    report = tc.compare(big, np.ones(150), np.zeros(2))
    assert "numeric" in report.refused and "numeric_limit" in str(report)
    net = tc.Network.from_params({"W1": np.array([[1.0, -1.0], [0.5, 0.5]]),
                                  "W2": np.array([[1.0, 2.0]])}, hidden="relu",
                                 output="identity")
    x = np.array([1.0, 1.0])  # the first hidden unit sits exactly at relu's kink
    report = tc.compare(net, x, np.array([0.3]))
    assert report.ok and report.kinks
    assert "relu'(0) = 0 by convention" in str(report)


def test_network_strategy_options_fit_an_assignment():
    from hypothesis import given

    @settings(max_examples=40, database=None)
    @given(tcs.networks(min_width=2, max_width=5, batch=3, pairs=tcs.pairings(tc.LOSSES),
                        targets="indices", min_classes=3, hiddens=["relu", "tanh"]))
    def check(case):
        net, x, y = case
        assert min(net.sizes) >= 2 and x.shape == (3, net.sizes[0])
        assert net.hidden is None or net.hidden.name in ("relu", "tanh")
        if net.loss_fn.name in ("cross_entropy", "nll") or (net.loss_fn.name == "hinge"
                                                           and net.sizes[-1] > 1):
            assert np.asarray(y).dtype.kind == "i" and net.sizes[-1] >= 3
        assert tc.compare(net, x, y).ok

    check()

    @settings(max_examples=10, database=None)
    @given(tcs.networks(batch="vector"))
    def vectors(case):
        assert case[1].ndim == 1

    vectors()


def test_returned_deltas_locate_the_layer_that_goes_wrong():
    def with_deltas(net, x, y, forget=False):
        W = {l: net.params[f"W{l}"] for l in (1, 2, 3)}
        b = {l: net.params[f"b{l}"] for l in (1, 2, 3)}
        a = {0: x}
        for l in (1, 2, 3):
            a[l] = 1 / (1 + np.exp(-(W[l] @ a[l - 1] + b[l])))
        d = {3: 2 * (a[3] - y) * a[3] * (1 - a[3])}
        for l in (2, 1):
            d[l] = W[l + 1].T @ d[l + 1] * (1 if forget and l == 1 else a[l] * (1 - a[l]))
        out = {f"delta{l}": d[l] for l in d}
        out.update({f"W{l}": np.outer(d[l], a[l - 1]) for l in d})
        out.update({f"b{l}": d[l] for l in d})
        return out

    net = tc.Network.random([2, 3, 3, 2], seed=1)
    x, y = np.array([0.3, -0.5]), np.array([1.0, 0.0])
    assert gradient_check(with_deltas, net, x, y).ok
    report = gradient_check(lambda *c: with_deltas(*c, forget=True), net, x, y)
    assert any(d.startswith("delta1 is where it goes wrong") and "delta2, delta3 match" in d
               for d in report.diagnosis), report.diagnosis


@pytest.mark.parametrize("convention", list(CONVENTIONS))
@pytest.mark.parametrize("bug,line", [("half", "missing 1/2"), ("mean", "a sum over the N = 2"),
                                      ("sign", "the sign is flipped"),
                                      ("transpose", "the transpose of the expected")])
def test_each_bug_class_shrinks_to_a_small_case_with_its_diagnosis(convention, bug, line):
    options = CONVENTIONS[convention] or {"names": {}}
    nets = tcs.networks(hidden="relu", pairing=("sigmoid", "squared_error"), bias=True,
                        batch=2, min_depth=2, max_depth=3, max_width=4)

    def student(p, a, b):
        return relu_backprop(p, a, b, columns="samples" in options, in_out="weights" in options,
                             bug=bug)

    def half_net(net):
        return tc.Network.stack(net.layers, loss=tc.Loss("squared_error", scale=0.5),
                                input_shape=net.input_shape, params=dict(net.params))

    net, x, y = find(nets, lambda c: not tcs.gradients_match(student, half_net(c[0]), *c[1:],
                                                             **options),
                     settings=settings(derandomize=True, database=None, max_examples=300))
    assert sum(net.sizes) <= (7 if bug == "transpose" else 3)  # shrunk to a tiny network
    report = gradient_check(student, half_net(net), x, y, **options)
    assert any(line in d for d in report.diagnosis), report.diagnosis


def test_gradients_given_as_values_not_a_function():
    net = _net()
    mine = relu_backprop(dict(net.params), X, Y)
    tcs.assert_gradients_match(mine, net, X, Y)
    tcs.assert_gradients_match([mine[k] for k in net.params], net, X, Y)
    wrong = dict(mine, b2=2 * mine["b2"])
    assert gradient_check(wrong, net, X, Y).wrong == ["b2"]
