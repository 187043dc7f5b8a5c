"""More of a student's conventions: parameters held in their own shapes ((1, n) gains) and
names, given as lists; ``numbering="by_dense"``; dC/dx checked with ``check_input``; torch
tensors, float32 and lists accepted; passing asserts return their report; check_gradients
accepting either one-sided slope at a kink; an expected zero gradient judged with a floor.

Every reference here is independent of the code under test: gradients derived by hand
(checked against our own central differences below) or by torch autograd."""

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc import strategies as tcs
from tensorcalc.testing import GradientCheck, gradient_check

EPS = 1e-5


def _softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _bn_backward(dxhat, xhat, rs):
    """dC/dz of a batch norm (biased variance) from dC/dxhat, by hand."""
    N = xhat.shape[0]
    return rs / N * (N * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))


def mlp_bn(p, X, Y, scale=1.0, dtype=np.float64):
    """Dense -> BatchNorm -> relu -> Dense -> softmax cross-entropy (mean), (out, in) weights,
    rows as samples: the loss and every gradient (and ``x``) by hand."""
    p = {k: np.asarray(v, dtype=dtype) for k, v in p.items()}
    X = np.asarray(X, dtype=dtype)
    N = X.shape[0]
    z1 = X @ p["W1"].T + p["b1"].reshape(-1)
    mu, var = z1.mean(0), z1.var(0)
    rs = 1 / np.sqrt(var + EPS)
    xhat = (z1 - mu) * rs
    g, be = p["gamma1"].reshape(-1), p["beta1"].reshape(-1)
    y = g * xhat + be
    h = np.maximum(y, 0)
    P = _softmax(h @ p["W2"].T + p["b2"])
    loss = -np.log(P[np.arange(N), Y]).mean() * scale
    ds = P.copy()
    ds[np.arange(N), Y] -= 1
    ds *= scale / N
    dy = (ds @ p["W2"]) * (y > 0)
    dz1 = _bn_backward(dy * g, xhat, rs)
    grads = {"W1": dz1.T @ X, "b1": dz1.sum(0), "gamma1": (dy * xhat).sum(0),
             "beta1": dy.sum(0), "W2": ds.T @ h, "b2": ds.sum(0), "x": dz1 @ p["W1"]}
    return loss, grads


def _fd(f, arrays, h=1e-6):
    """Our own central differences of f(dict of arrays) by every array."""
    out = {}
    for name, value in arrays.items():
        grad = np.zeros_like(value, dtype=float)
        for idx in np.ndindex(value.shape):
            up, down = {k: v.copy() for k, v in arrays.items()}, {k: v.copy()
                                                                  for k, v in arrays.items()}
            up[name][idx] += h
            down[name][idx] -= h
            grad[idx] = (f(up) - f(down)) / (2 * h)
        out[name] = grad
    return out


LAYERS = [tc.Dense(4), tc.BatchNorm(), "relu", tc.Dense(3), "softmax"]
rng = np.random.default_rng(7)
P = {"W1": rng.normal(size=(4, 5)), "b1": rng.normal(size=4) * 0.1,
     "gamma1": 1 + 0.2 * rng.normal(size=4), "beta1": 0.3 * rng.normal(size=4),
     "W2": rng.normal(size=(3, 4)), "b2": 0.1 * rng.normal(size=3)}
X = rng.normal(size=(6, 5))
Y = np.array([0, 1, 2, 2, 1, 0])


def _net(**options):
    options.setdefault("params", P)
    options.setdefault("numbering", "by_dense")
    return tc.Network.stack(LAYERS, loss="cross_entropy", input_shape=(5,), **options)


def test_the_hand_written_student_agrees_with_our_finite_differences():
    _, grads = mlp_bn(P, X, Y)
    numeric = _fd(lambda q: mlp_bn({**P, **{k: v for k, v in q.items() if k != "x"}}, q["x"],
                                   Y)[0], {**P, "x": X})
    for k in grads:
        np.testing.assert_allclose(grads[k], numeric[k], rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- shapes the student holds
def makemore(p, Xb, Yb):
    """A makemore-style MLP (embedding, (in, out) weights, batch norm with (1, n) gain and
    bias, tanh), its backward written by hand as in the manual-backprop exercise."""
    N = Xb.shape[0]
    emb = p["C"][Xb]
    embcat = emb.reshape(N, -1)
    hprebn = embcat @ p["W1"] + p["b1"]
    mu, var = hprebn.mean(0, keepdims=True), hprebn.var(0, keepdims=True)
    rs = 1 / np.sqrt(var + EPS)
    bnraw = (hprebn - mu) * rs
    h = np.tanh(p["bngain"] * bnraw + p["bnbias"])
    probs = _softmax(h @ p["W2"] + p["b2"])
    dlogits = probs.copy()
    dlogits[np.arange(N), Yb] -= 1
    dlogits /= N
    dhpreact = (dlogits @ p["W2"].T) * (1 - h ** 2)
    dhprebn = _bn_backward(p["bngain"] * dhpreact, bnraw, rs)
    dC = np.zeros_like(p["C"])
    np.add.at(dC, Xb, (dhprebn @ p["W1"].T).reshape(emb.shape))
    return {"C": dC, "W1": embcat.T @ dhprebn, "b1": dhprebn.sum(0),
            "bngain": (bnraw * dhpreact).sum(0, keepdims=True),
            "bnbias": dhpreact.sum(0, keepdims=True), "W2": h.T @ dlogits,
            "b2": dlogits.sum(0)}


def _makemore_case(hidden=64):
    r = np.random.default_rng(0)
    p = {"C": r.normal(size=(27, 10)), "W1": r.normal(size=(30, hidden)) * 0.3,
         "b1": r.normal(size=hidden) * 0.1, "bngain": 1 + 0.1 * r.normal(size=(1, hidden)),
         "bnbias": 0.1 * r.normal(size=(1, hidden)), "W2": r.normal(size=(hidden, 27)) * 0.1,
         "b2": r.normal(size=27) * 0.1}
    return p, r.integers(0, 27, size=(32, 3)), r.integers(0, 27, size=32)


MAKEMORE = [tc.Embedding(27, 10), tc.Flatten(), tc.Dense(64, weights="in_out"), tc.BatchNorm(),
            "tanh", tc.Dense(27, weights="in_out"), "softmax"]
MAKEMORE_NAMES = {"C1": "C", "gamma1": "bngain", "beta1": "bnbias"}


def _makemore_net(p):
    return tc.Network.stack(MAKEMORE, loss="cross_entropy", input_shape=(3,), params=p,
                            names=MAKEMORE_NAMES, numbering="by_dense")


def test_makemore_style_net_builds_and_checks_in_the_students_shapes():
    p, Xb, Yb = _makemore_case()
    net = _makemore_net(p)
    assert net.params["gamma1"].shape == (64,) and net.student.shapes["gamma1"] == (1, 64)
    np.testing.assert_array_equal(net.params["gamma1"], p["bngain"][0])
    grads = makemore(p, Xb, Yb)
    report = tcs.assert_gradients_match(grads, net, Xb, Yb, weights="in_out")
    assert report.ok and list(report.checks) == list(grads)  # the student's names
    assert "bngain (1, 64)" in str(report) and "bnbias (1, 64)" in str(report)
    wrong = dict(grads, bngain=grads["bngain"] * 1.5)
    assert gradient_check(wrong, net, Xb, Yb, weights="in_out").wrong == ["bngain"]


def test_a_gradient_in_the_layers_shape_is_refused_naming_both_shapes():
    p, Xb, Yb = _makemore_case()
    net = _makemore_net(p)
    grads = makemore(p, Xb, Yb)
    flat = dict(grads, bngain=grads["bngain"].reshape(64))
    with pytest.raises(AssertionError, match=r"gradient of bngain has shape \(64,\); your "
                                             r"parameter bngain has shape \(1, 64\)"):
        gradient_check(flat, net, Xb, Yb, weights="in_out")
    column = dict(grads, bnbias=grads["bnbias"].reshape(64, 1))  # never broadcast
    with pytest.raises(AssertionError, match=r"bnbias has shape \(64, 1\)"):
        gradient_check(column, net, Xb, Yb, weights="in_out")


@pytest.mark.parametrize("shape", [(1, 4), (4, 1), (1, 4, 1, 1)])
def test_singleton_layouts_are_remembered_and_expected_back(shape):
    p = {k: (v.reshape(shape) if k in ("gamma1", "beta1", "b1") else v) for k, v in P.items()}
    net = _net(params=p)
    np.testing.assert_array_equal(net.params["gamma1"], P["gamma1"])
    _, grads = mlp_bn(P, X, Y)
    grads = {k: (v.reshape(shape) if k in ("gamma1", "beta1", "b1") else v)
             for k, v in grads.items() if k != "x"}
    assert gradient_check(grads, net, X, Y).ok
    assert gradient_check(grads, net, X, Y).checks["gamma1"].shape == shape
    with pytest.raises(AssertionError, match=r"your parameter b1 has shape"):
        gradient_check(dict(grads, b1=grads["b1"].reshape(-1)), net, X, Y)


def test_genuinely_wrong_sizes_are_still_a_clear_error():
    with pytest.raises(tc.ShapeMismatchError, match=r"bngain must have shape \(64,\) for "
                                                    r"layer 4 \(batchnorm\); got \(1, 65\)"):
        p, _, _ = _makemore_case()
        _makemore_net(dict(p, bngain=np.ones((1, 65))))
    with pytest.raises(tc.ShapeMismatchError, match=r"W2 must have shape \(3, 4\)"):
        _net(params=dict(P, W2=np.ones((4, 3))))  # a transpose is not a singleton layout
    with pytest.raises(tc.TensorcalcError, match=r"missing \['bngain'\]"):
        p, _, _ = _makemore_case()
        _makemore_net({k: v for k, v in p.items() if k != "bngain"})


def test_params_and_gradients_as_lists_pair_by_the_given_order():
    order = ["W2", "b2", "W1", "b1", "gamma1", "beta1"]
    net = _net(params=[P[k] for k in order], names=order)
    for k in P:
        np.testing.assert_array_equal(net.params[k], P[k])
    _, grads = mlp_bn(P, X, Y)
    assert tcs.assert_gradients_match([grads[k] for k in order], net, X, Y).ok
    swapped = [grads[k] for k in order]
    swapped[1] = 2 * swapped[1]  # b2, the second in the student's order
    assert gradient_check(swapped, net, X, Y).wrong == ["b2"]
    with pytest.raises(AssertionError, match="in the order W2, b2, W1"):
        gradient_check(swapped[:-1], net, X, Y)
    with pytest.raises(tc.TensorcalcError, match=r"no array for \['beta1'\]"):
        _net(params=[P[k] for k in order[:-1]], names=order[:-1])
    with pytest.raises(tc.TensorcalcError, match="one array per parameter"):
        _net(params=[P[k] for k in order[:-1]])
    with pytest.raises(tc.TensorcalcError, match="a list of names goes with a list"):
        _net(params=P, names=order)


def test_a_partial_names_mapping_renames_only_what_it_names():
    theirs = {("g" if k == "gamma1" else k): v for k, v in P.items()}
    net = _net(params=theirs, names={"gamma1": "g"})
    _, grads = mlp_bn(P, X, Y)
    mine = {("g" if k == "gamma1" else k): v for k, v in grads.items() if k != "x"}
    report = gradient_check(mine, net, X, Y)
    assert report.ok and "g" in report.checks and "gamma1" not in report.checks
    assert gradient_check(dict(mine, g=-mine["g"]), net, X, Y).wrong == ["g"]


# ---------------------------------------------------------------- numbering
def _names(layers, input_shape=(5,), **options):
    return list(tc.Network.stack(layers, input_shape=input_shape, **options).params)


def test_by_dense_numbering_names_norms_after_their_dense_layer():
    layers = [tc.Dense(4), tc.BatchNorm(), "relu", tc.Dense(4), tc.BatchNorm(), "relu",
              tc.Dense(2)]
    assert _names(layers, numbering="by_dense") == [
        "W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert _names(layers) == _names(layers, numbering="by_layer") == [
        "W1", "b1", "gamma2", "beta2", "W3", "b3", "gamma4", "beta4", "W5", "b5"]
    emb = [tc.Embedding(27, 10), tc.Flatten(), tc.Dense(8), tc.BatchNorm(), "tanh",
           tc.Dense(27), "softmax"]
    assert _names(emb, (3,), numbering="by_dense", loss="cross_entropy") == [
        "C1", "W1", "b1", "gamma1", "beta1", "W2", "b2"]
    conv = [tc.Conv2d(2, 3), tc.Flatten(), tc.LayerNorm(), tc.Dense(2)]
    assert _names(conv, (1, 5, 5), numbering="by_dense") == [
        "K1", "b1", "gamma1", "beta1", "W2", "b2"]


def test_by_dense_numbering_refuses_two_norms_on_one_number_and_unknown_names():
    with pytest.raises(tc.TensorcalcError, match="gamma1 like layer 2"):
        _names([tc.Dense(4), tc.BatchNorm(), tc.LayerNorm()], numbering="by_dense")
    with pytest.raises(tc.UnknownNameError, match="'by_layer', 'by_dense'"):
        _names([tc.Dense(4)], numbering="by_norm")


def test_a_by_dense_net_is_checked_and_rebuilt_with_its_numbering():
    net = _net()
    _, grads = mlp_bn(P, X, Y)
    grads.pop("x")
    assert gradient_check(grads, net, X, Y).ok
    snippet = gradient_check(dict(grads, W2=-grads["W2"]), net, X, Y).reproducer
    scope = {}
    exec(snippet, scope)
    assert list(scope["net"].params) == list(net.params) and "by_dense" in repr(scope["net"])
    assert gradient_check(grads, scope["net"], scope["x"], scope["y"]).ok


# ---------------------------------------------------------------- dC/dx
def test_check_input_compares_the_students_dx_under_its_own_name():
    net = _net()
    _, grads = mlp_bn(P, X, Y)
    mine = {("dx" if k == "x" else k): v for k, v in grads.items()}
    report = gradient_check(mine, net, X, Y, check_input=True, names={"x": "dx"})
    assert report.ok and "x" in report.checks
    wrong = dict(mine, dx=mine["dx"] @ np.diag([1.0, 1.0, 1.0, 1.0, 1.1]))
    assert gradient_check(wrong, net, X, Y, names={"x": "dx"}).ok  # not checked by default
    report = gradient_check(wrong, net, X, Y, check_input=True, names={"x": "dx"})
    assert report.wrong == ["x"]
    with pytest.raises(AssertionError, match="WRONG x"):
        tcs.assert_gradients_match(wrong, net, X, Y, check_input=True, names={"x": "dx"})
    as_list = [grads[k] for k in net.params] + [grads["x"]]
    assert gradient_check(as_list, net, X, Y, check_input=True).ok
    with pytest.raises(AssertionError, match=r"no gradient for \['dx'\]"):
        gradient_check({k: v for k, v in grads.items() if k != "x"}, net, X, Y,
                       check_input=True, names={"x": "dx"})


def test_check_input_in_columns_and_refused_for_token_ids():
    net = _net()
    _, grads = mlp_bn(P, X, Y)

    def columns(params, Xc, y):
        out = dict(grads, x=grads["x"].T)
        out["b1"] = out["b1"][:, None]
        return out

    assert gradient_check(columns, net, X, Y, samples="columns", bias="column",
                          check_input=True).ok
    p, Xb, Yb = _makemore_case(8)
    small = tc.Network.stack(MAKEMORE[:2] + [tc.Dense(8, weights="in_out")] + MAKEMORE[3:],
                             loss="cross_entropy", input_shape=(3,), params=p,
                             names=MAKEMORE_NAMES, numbering="by_dense")
    with pytest.raises(tc.TensorcalcError, match="integer token ids"):
        gradient_check(makemore(p, Xb, Yb), small, Xb, Yb, weights="in_out", check_input=True)


# ---------------------------------------------------------------- float32, lists, torch
def test_float32_gradients_get_float32_tolerances_and_say_so():
    net = _net()
    _, g32 = mlp_bn(P, X, Y, dtype=np.float32)  # computed in float32 arithmetic
    g32.pop("x")
    report = gradient_check(g32, net, X, Y)
    assert report.ok and "float32 tolerances" in report.tolerance and "float32" in str(report)
    widened = {k: v.astype(np.float64) for k, v in g32.items()}
    assert not gradient_check(widened, net, X, Y).ok  # float64 tolerances catch the rounding
    net32 = tc.Network.stack(LAYERS, loss="cross_entropy", input_shape=(5,), params=P,
                             numbering="by_dense", dtype=np.float32)
    assert "float32 tolerances" in gradient_check(g32, net32, X, Y).tolerance
    assert "float64 tolerances" in gradient_check(widened, _net(), X, Y).tolerance


def test_plain_lists_are_accepted_everywhere():
    _, grads = mlp_bn(P, X, Y)
    net = _net(params={k: v.tolist() for k, v in P.items()})
    report = gradient_check({k: v.tolist() for k, v in grads.items()}, net, X.tolist(),
                            Y.tolist(), check_input=True)
    assert report.ok
    loss = lambda q: float(np.sum(np.asarray(q["w"]) ** 3))  # noqa: E731
    assert tc.check_gradients(loss, {"w": [1.0, -2.0]}, {"w": [3.0, 12.0]}).ok
    assert not tc.check_gradients(loss, {"w": [1.0, -2.0]}, {"w": [3.0, -12.0]}).ok
    z = [0.3, -1.2]
    s = 1 / (1 + np.exp(-np.array(z)))
    tcs.assert_jacobian_matches(np.diag(s * (1 - s)).tolist(), tc.sigmoid, z)


def test_torch_tensors_are_detached_and_checked():
    torch = pytest.importorskip("torch")
    p = {k: torch.tensor(v, requires_grad=True) for k, v in P.items()}
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    z1 = Xt @ p["W1"].T + p["b1"]
    bn = torch.nn.functional.batch_norm(z1, None, None, p["gamma1"], p["beta1"], training=True,
                                        eps=EPS)
    logits = torch.relu(bn) @ p["W2"].T + p["b2"]
    torch.nn.functional.cross_entropy(logits, Yt).backward()
    grads = {k: v.grad for k, v in p.items()}
    net = _net(params=p)  # requires_grad tensors as the parameters
    report = tcs.assert_gradients_match(grads, net, Xt, Yt)
    assert report.ok and "float64 tolerances" in report.tolerance
    assert not gradient_check(dict(grads, W1=2 * grads["W1"]), net, Xt, Yt).ok
    g32 = {k: v.float() for k, v in grads.items()}
    assert "float32 tolerances" in gradient_check(g32, net, X, Y).tolerance
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (w ** 3).sum().backward()
    loss = lambda q: float(np.sum(q["w"] ** 3))  # noqa: E731
    assert tc.check_gradients(loss, {"w": w}, {"w": w.grad}).ok
    assert not tc.check_gradients(loss, {"w": w}, {"w": -w.grad}).ok
    zt = torch.tensor([0.3, -1.2], requires_grad=True)
    jac = torch.autograd.functional.jacobian(torch.sigmoid, zt)
    assert tcs.assert_jacobian_matches(jac, tc.sigmoid, zt).ok
    with pytest.raises(AssertionError, match="is wrong"):
        tcs.assert_jacobian_matches(2 * jac, tc.sigmoid, zt)


def test_a_float32_jacobian_gets_float32_tolerances():
    z = np.array([0.3, -1.2])
    s = 1 / (1 + np.exp(-z))
    J = np.diag(s * (1 - s))
    report = tcs.assert_jacobian_matches(J.astype(np.float32), tc.sigmoid, z)
    assert report.dtype == "float32"
    off = J * (1 + 1e-3)  # within float32's tolerance, outside float64's
    with pytest.raises(AssertionError):
        tcs.assert_jacobian_matches(off, tc.sigmoid, z)
    assert tcs.assert_jacobian_matches(off.astype(np.float32), tc.sigmoid, z).ok


# ---------------------------------------------------------------- passing asserts report
def test_passing_asserts_return_a_printable_report():
    _, grads = mlp_bn(P, X, Y)
    report = tcs.assert_gradients_match(grads, _net(), X, Y, check_input=True)
    assert isinstance(report, GradientCheck) and report.ok
    text = str(report)
    assert text.startswith("every gradient matches") and "ok    gamma1 (4,)" in text
    z = np.array([0.3, -1.2])
    s = 1 / (1 + np.exp(-z))
    jac = tcs.assert_jacobian_matches(np.diag(s * (1 - s)), tc.sigmoid, z)
    assert jac.ok and str(jac).startswith("OK: dy/dx") and "abs error" in str(jac)
    assert jac.abs_error < 1e-8


# ---------------------------------------------------------------- kinks and zeros
def test_check_gradients_accepts_either_one_sided_slope_at_a_kink():
    c = np.array([2.0, 3.0, 4.0])
    loss = lambda q: float(np.sum(np.maximum(q["w"], 0) * c))  # noqa: E731
    w = {"w": np.array([0.0, 1.5, -0.5])}  # entry 0 sits on relu's kink
    right = tc.check_gradients(loss, w, {"w": np.array([2.0, 3.0, 0.0])})
    assert right.ok and "yours matches the right-hand slope at (0,)" in right.notes[0]
    left = tc.check_gradients(loss, w, {"w": np.array([0.0, 3.0, 0.0])})
    assert left.ok and "left-hand slope at (0,)" in left.notes[0]
    wrong = tc.check_gradients(loss, w, {"w": np.array([5.0, 3.0, 0.0])})
    assert not wrong.ok and "matches neither side" in wrong.notes[0]
    assert not tc.check_gradients(loss, w, {"w": np.array([2.0, 3.0, 1.0])}).ok  # off the kink


def test_one_sided_slopes_are_second_order_on_a_curved_side():
    loss = lambda q: float(np.sum(np.maximum(q["w"], 0) * np.exp(50 * q["w"])))  # noqa: E731
    w = {"w": np.array([0.0])}  # right slope 1 (curvature 100 there), left slope 0
    assert tc.check_gradients(loss, w, {"w": np.array([1.0])}).ok
    assert tc.check_gradients(loss, w, {"w": np.array([0.0])}).ok
    assert not tc.check_gradients(loss, w, {"w": np.array([0.99])}).ok


def test_a_zero_expected_gradient_is_judged_with_a_floor_from_the_largest():
    scale = 1e6  # large gradients everywhere: rounding noise in db1 grows with them
    net = tc.Network.stack(LAYERS, loss=tc.Loss("cross_entropy", scale=scale),
                           input_shape=(5,), params=P, numbering="by_dense")
    _, grads = mlp_bn(P, X, Y, scale=scale)
    grads.pop("x")
    assert np.max(np.abs(grads["b1"])) < 1e-6 * scale  # a bias before a batch norm: zero
    top = max(float(np.max(np.abs(v))) for v in grads.values())
    noisy = dict(grads, b1=np.full(4, 0.5e-10 * top))  # far above 1e-10, under the floor
    report = gradient_check(noisy, net, X, Y)
    assert report.ok, str(report)
    assert any(n.startswith("b1: the expected gradient is zero") and "absolute floor" in n
               for n in report.notes)
    assert gradient_check(dict(grads, b1=np.full(4, 1e-3 * top)), net, X, Y).wrong == ["b1"]
    assert [n[:3] for n in report.notes if "absolute floor" in n] == ["b1:"]  # b1 only
