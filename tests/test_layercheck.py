"""check_layer / check_vjp and their assert_ forms: small student-style layer functions written
here (correct ones pass; each planted bug is caught and named), references checked against
hand-derived forms and torch."""

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc import strategies as tcs

RNG = np.random.default_rng(11)


# ---------------------------------------------------------------- student-style layers
def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def affine_backward_row_bias(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw, db[None, :]


def affine_backward_no_transpose(dout, cache):
    x, w, _ = cache
    dx, _, db = affine_backward(dout, cache)
    return dx, (x.reshape(x.shape[0], -1).T @ dout).T, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return dout * (x > 0)


def relu_backward_at_zero_one(dout, x):
    return dout * (x >= 0)


def relu_backward_in_place(dout, x):
    dout[x <= 0] = 0
    return dout


def batchnorm_forward(x, gamma, beta):
    mu, var = x.mean(axis=0), x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    return gamma * xhat + beta, (xhat, gamma, var)


def _bn_backward(dout, cache, k):
    xhat, gamma, var = cache
    n = dout.shape[0]
    dx = gamma / np.sqrt(var + 1e-5) / n * (n * dout - dout.sum(axis=0)
                                             - k * xhat * np.sum(dout * xhat, axis=0))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_backward(dout, cache):
    return _bn_backward(dout, cache, 1.0)


def batchnorm_backward_unbiased(dout, cache):
    n = dout.shape[0]
    return _bn_backward(dout, cache, n / (n - 1))


def max_pool_forward(x, pool):
    k, s = pool["pool_height"], pool["stride"]
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out, (x, pool)


def _pool_backward(dout, cache, accumulate=True, unique=False):
    x, pool = cache
    k, s = pool["pool_height"], pool["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        if unique:
            ((a, b),) = np.argwhere(window == window.max())
        else:
            a, b = np.unravel_index(np.argmax(window), window.shape)
        if accumulate:
            dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
        else:
            dx[n, c, i * s + a, j * s + b] = dout[n, c, i, j]
    return dx


def max_pool_backward(dout, cache):
    return _pool_backward(dout, cache)


def max_pool_backward_assign(dout, cache):
    return _pool_backward(dout, cache, accumulate=False)


def max_pool_backward_unique_max(dout, cache):
    return _pool_backward(dout, cache, unique=True)


def conv_forward(x, w, b, conv):
    pad, s = conv["pad"], conv["stride"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, _, hh, ww = w.shape
    ho, wo = (xp.shape[2] - hh) // s + 1, (xp.shape[3] - ww) // s + 1
    out = np.zeros((x.shape[0], f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * s:i * s + hh, j * s:j * s + ww]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, w) + b
    return out, (x, w, b, conv)


def _conv_backward(dout, cache, slice_pad):
    x, w, _, conv = cache
    pad, s = conv["pad"], conv["stride"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    hh, ww = w.shape[2:]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            patch = xp[:, :, i * s:i * s + hh, j * s:j * s + ww]
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], patch)
            dxp[:, :, i * s:i * s + hh, j * s:j * s + ww] += np.einsum(
                "nf,fchw->nchw", dout[:, :, i, j], w)
    h, wd = x.shape[2:]
    dx = dxp[:, :, pad:-pad, pad:-pad] if slice_pad else dxp[:, :, pad:pad + h, pad:pad + wd]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_backward(dout, cache):
    return _conv_backward(dout, cache, False)


def conv_backward_pad_slice(dout, cache):
    return _conv_backward(dout, cache, True)


def dropout_forward_keep(x, p):
    mask = (np.random.default_rng(5).random(x.shape) < p) / p  # p kept, not dropped
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


def embedding_forward(ids, table):
    return table[ids], (ids, table)


def embedding_backward(dout, cache):
    ids, table = cache
    d = np.zeros_like(table)
    np.add.at(d, ids, dout)
    return d


def embedding_backward_assign(dout, cache):
    ids, table = cache
    d = np.zeros_like(table)
    d[ids] = dout
    return d


# ---------------------------------------------------------------- inputs
def affine_inputs(rng=RNG):
    return {"x": rng.normal(size=(3, 2, 2)), "w": rng.normal(size=(4, 5)),
            "b": rng.normal(size=5)}


AFFINE = [tc.Flatten(), tc.Dense(5, weights="in_out")]


def bn_inputs(rng=RNG):
    return {"x": rng.normal(size=(5, 3)) * 2 + 1, "gamma": rng.normal(size=3),
            "beta": rng.normal(size=3)}


def lines(report, prefix="diagnosis: "):
    return [ln for ln in str(report).splitlines() if ln.startswith(prefix)]


# ---------------------------------------------------------------- correct code passes
@pytest.mark.parametrize("reference", [None, AFFINE])
def test_a_correct_affine_layer_passes(reference):
    report = tc.check_layer(affine_forward, affine_backward, affine_inputs(),
                            reference=reference)
    assert report.ok, str(report)
    assert set(report.checks) >= {"dx", "dw", "db"}
    assert ("out" in report.checks) == (reference is not None)


def test_the_reference_equals_hand_derived_gradients():
    inputs = affine_inputs()
    dout = RNG.normal(size=(3, 5))
    ref = tc.testing.reference.reference(AFFINE, inputs, dout)
    x2 = inputs["x"].reshape(3, -1)
    np.testing.assert_allclose(ref.out, x2 @ inputs["w"] + inputs["b"], rtol=1e-13)
    np.testing.assert_allclose(ref.grads["x"], (dout @ inputs["w"].T).reshape(3, 2, 2),
                               rtol=1e-13)
    np.testing.assert_allclose(ref.grads["w"], x2.T @ dout, rtol=1e-13)
    np.testing.assert_allclose(ref.grads["b"], dout.sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize("forward, backward, inputs, args, reference", [
    (relu_forward, relu_backward, lambda: {"x": RNG.normal(size=(4, 5))}, (),
     tc.Activation("relu")),
    (batchnorm_forward, batchnorm_backward, bn_inputs, (), tc.BatchNorm()),
    (max_pool_forward, max_pool_backward, lambda: {"x": RNG.normal(size=(2, 2, 5, 5))},
     ({"pool_height": 3, "pool_width": 3, "stride": 2},), tc.MaxPool2d(3, 2)),
    (conv_forward, conv_backward, lambda: {"x": RNG.normal(size=(2, 3, 5, 5)),
                                          "w": RNG.normal(size=(2, 3, 3, 3)),
                                          "b": RNG.normal(size=2)},
     ({"stride": 1, "pad": 1},), tc.Conv2d(2, 3, padding=1)),
    (embedding_forward, embedding_backward,
     lambda: {"ids": RNG.integers(0, 5, size=(4, 3)), "C": RNG.normal(size=(5, 2))}, (),
     tc.Embedding(5, 2)),
])
def test_correct_layers_pass_with_and_without_reference(forward, backward, inputs, args,
                                                        reference):
    data = inputs()
    for ref in (reference, None):
        report = tc.check_layer(forward, backward, data, *args, reference=ref)
        assert report.ok, str(report)
        assert not report.warnings


# ---------------------------------------------------------------- each bug, one line
def test_a_row_shaped_bias_gradient_is_a_shape_problem_naming_both_shapes():
    report = tc.check_layer(affine_forward, affine_backward_row_bias, affine_inputs(),
                            reference=AFFINE)
    assert not report.ok
    assert any("db has shape (1, 5); your input b has shape (5,)" in p for p in report.problems)


def test_an_empty_dx_from_a_pad_slice_is_named():
    inputs = {"x": RNG.normal(size=(2, 3, 5, 5)), "w": RNG.normal(size=(2, 3, 3, 3)),
              "b": RNG.normal(size=2)}
    args = ({"stride": 1, "pad": 0},)
    assert tc.check_layer(conv_forward, conv_backward, inputs, *args,
                          reference=tc.Conv2d(2, 3)).ok
    report = tc.check_layer(conv_forward, conv_backward_pad_slice, inputs, *args,
                            reference=tc.Conv2d(2, 3))
    assert not report.ok
    assert any("It is empty" in p and "(2, 3, 5, 5)" in p for p in report.problems)


def test_a_transposed_square_weight_gradient_is_diagnosed():
    inputs = {"x": RNG.normal(size=(3, 4)), "w": RNG.normal(size=(4, 4)),
              "b": RNG.normal(size=4)}
    report = tc.check_layer(affine_forward, affine_backward_no_transpose, inputs,
                            reference=tc.Dense(4, weights="in_out"))
    assert report.wrong == ["dw"]
    assert any("transpose" in ln for ln in lines(report))


def test_relu_prime_at_zero_equal_to_one_is_caught_by_the_exact_reference():
    x = RNG.normal(size=(3, 4))
    x[0, 1] = x[2, 2] = 0.0
    report = tc.check_layer(relu_forward, relu_backward_at_zero_one, {"x": x},
                            reference=tc.Activation("relu"))
    assert report.wrong == ["dx"]
    assert any("only where x is exactly 0 (2 entries)" in ln for ln in lines(report))


def test_assignment_where_pooling_windows_overlap_is_diagnosed():
    x = RNG.normal(size=(2, 2, 5, 5))
    pool = {"pool_height": 3, "pool_width": 3, "stride": 2}
    report = tc.check_layer(max_pool_forward, max_pool_backward_assign, {"x": x}, pool,
                            reference=tc.MaxPool2d(3, 2))
    if report.ok:  # no maximum shared by two windows in this draw
        pytest.skip("no overlapping maximum drawn")
    assert any("assigned where it must accumulate" in ln for ln in lines(report))


def test_assignment_where_embedding_indices_repeat_is_diagnosed():
    data = {"ids": np.array([[0, 1, 1], [2, 0, 3]]), "C": RNG.normal(size=(4, 2))}
    report = tc.check_layer(embedding_forward, embedding_backward_assign, data,
                            reference=tc.Embedding(4, 2))
    assert report.wrong == ["dC"]
    assert any("assigned where it must accumulate: use += (or np.add.at" in ln
               for ln in lines(report))


def test_a_crash_on_tied_maxima_shows_the_students_traceback_and_names_the_ties():
    x = np.maximum(RNG.normal(size=(1, 1, 4, 4)), 0)
    x[0, 0, :2, :2] = 0.0  # a window of zeros, as after a ReLU
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    report = tc.check_layer(max_pool_forward, max_pool_backward_unique_max, {"x": x}, pool,
                            reference=tc.MaxPool2d(2, 2))
    assert not report.ok
    (problem,) = report.problems
    assert "your backward raised" in problem and "max_pool_backward_unique_max" in problem
    assert "tensorcalc" not in problem.split("raised", 1)[1]  # library frames hidden
    assert any("tied values" in ln and "tied maxima" in ln for ln in lines(report))


def test_a_keep_probability_dropout_is_diagnosed():
    x = RNG.normal(size=(40, 6))
    report = tc.check_layer(dropout_forward_keep, dropout_backward, {"x": x}, 0.3,
                            reference=tc.Dropout(0.3))
    assert not report.ok
    assert any("your p is the keep probability" in ln for ln in lines(report))


def test_an_unbiased_variance_in_the_backward_is_named_by_its_term():
    report = tc.check_layer(batchnorm_forward, batchnorm_backward_unbiased, bn_inputs(),
                            reference=tc.BatchNorm())
    assert report.wrong == ["dx"]
    (line,) = [ln for ln in lines(report) if "one term" in ln]
    assert "1.25 times" in line and "N/(N-1)" in line  # N = 5


def test_a_missing_mean_is_diagnosed_as_a_ratio():
    x, w = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    dout = RNG.normal(size=(3, 2))
    report = tc.check_vjp(tc.Dense(2, weights="in_out"), {"x": x, "w": w, "b": np.zeros(2)},
                          dout, {"w": x.T @ dout / 3})
    assert report.wrong == ["dw"]
    assert any("mean over the N = 3 samples" in ln for ln in lines(report))


# ---------------------------------------------------------------- warnings
def test_a_backward_that_writes_into_dout_warns_and_fails_when_strict():
    x = RNG.normal(size=(3, 4))
    report = tc.check_layer(relu_forward, relu_backward_in_place, {"x": x},
                            reference=tc.Activation("relu"))
    assert report.ok
    assert any("modified dout in place" in w for w in report.warnings)
    strict = tc.check_layer(relu_forward, relu_backward_in_place, {"x": x},
                            reference=tc.Activation("relu"), strict=True)
    assert not strict.ok and "FAILED (strict)" in str(strict)


def test_a_constant_dout_makes_batch_norms_dx_vacuous_and_says_so():
    report = tc.check_layer(batchnorm_forward, batchnorm_backward, bn_inputs(),
                            reference=tc.BatchNorm(), dout=np.ones((5, 3)))
    assert report.ok
    assert any("expected dx is zero for this dout" in w for w in report.warnings)
    assert not any("dbeta" in w for w in report.warnings)


def test_the_default_dout_comes_from_its_own_stream():
    x = RNG.normal(size=(3, 4))
    seen = []

    def spy(dout, cache):
        seen.append(np.array(dout))
        return relu_backward(dout, cache)

    tc.check_layer(relu_forward, spy, {"x": x}, seed=0)
    tc.check_layer(relu_forward, spy, {"x": x}, seed=1)
    assert not np.allclose(seen[0], np.random.default_rng(0).standard_normal((3, 4)))
    assert not np.allclose(seen[0], seen[1])


# ---------------------------------------------------------------- inputs and outputs
def test_torch_tensors_go_in_and_dout_comes_back_as_a_tensor():
    torch = pytest.importorskip("torch")
    data = {k: torch.tensor(v) for k, v in affine_inputs().items()}
    kinds = []

    def backward(dout, cache):
        kinds.append(type(dout).__name__)
        x, w, _ = cache
        return dout @ w.T, x.T @ dout, dout.sum(0)

    def forward(x, w, b):
        return x @ w + b, (x, w, b)

    data["x"] = data["x"].reshape(3, 4)
    report = tc.check_layer(forward, backward, data, reference=tc.Dense(5, weights="in_out"))
    assert report.ok, str(report)
    assert kinds == ["Tensor"]


def test_float32_inputs_use_float32_tolerances_and_say_so():
    data = {k: v.astype(np.float32) for k, v in affine_inputs().items()}
    report = tc.check_layer(affine_forward, affine_backward, data, reference=AFFINE)
    assert report.ok and "float32 tolerances" in str(report)


def test_check_vjp_checks_any_subset_and_rejects_unknown_names():
    data = bn_inputs()
    dout = RNG.normal(size=(5, 3))
    ok = tc.check_vjp(tc.BatchNorm(), data, dout, {"beta": dout.sum(axis=0)})
    assert ok.ok and list(ok.checks) == ["dbeta"]
    with pytest.raises(tc.TensorcalcError, match="not inputs"):
        tc.check_vjp(tc.BatchNorm(), data, dout, {"dx": dout})


def test_the_assert_forms_raise_with_the_report_and_return_it_when_passing():
    data = affine_inputs()
    report = tcs.assert_layer_matches(affine_forward, affine_backward, data, reference=AFFINE)
    assert report.ok and "every check passes" in str(report)
    with pytest.raises(AssertionError, match="db has shape"):
        tcs.assert_layer_matches(affine_forward, affine_backward_row_bias, data,
                                 reference=AFFINE)
    x, w = data["x"].reshape(3, -1), data["w"]
    dout = RNG.normal(size=(3, 5))
    passed = tcs.assert_vjp_matches(tc.Dense(5, weights="in_out"),
                                    {"x": x, "w": w, "b": data["b"]}, dout, {"x": dout @ w.T})
    assert passed.ok
    with pytest.raises(AssertionError, match="sign is flipped"):
        tcs.assert_vjp_matches(tc.Dense(5, weights="in_out"), {"x": x, "w": w, "b": data["b"]},
                               dout, {"x": -dout @ w.T})


def test_the_reproducer_rebuilds_the_failing_case():
    report = tc.check_layer(batchnorm_forward, batchnorm_backward_unbiased, bn_inputs(),
                            reference=tc.BatchNorm())
    assert "rebuild this case:" in str(report)
    printed = []
    namespace = {"batchnorm_forward": batchnorm_forward, "print": printed.append,
                 "batchnorm_backward_unbiased": batchnorm_backward_unbiased}
    exec(report.reproducer, namespace)
    (rebuilt,) = printed
    assert not rebuilt.ok
    assert rebuilt.checks["dx"] == report.checks["dx"]


def test_a_wrong_input_count_is_reported():
    data = affine_inputs()
    with pytest.raises(tc.TensorcalcError, match="takes the input and then 2 parameters"):
        tc.check_layer(lambda x, w: affine_forward(x, w, 0.0),
                       lambda dout, cache: affine_backward(dout, cache)[:2],
                       {"x": data["x"], "w": data["w"]}, reference=AFFINE)


def test_assert_jacobian_matches_takes_a_vjp_instead_of_a_jacobian():
    data = bn_inputs()
    x, gamma, beta = data["x"], data["gamma"], data["beta"]

    def f(v):
        return batchnorm_forward(v, gamma, beta)[0]

    cache = batchnorm_forward(x, gamma, beta)[1]
    report = tcs.assert_jacobian_matches(f=f, x=x, vjp=lambda d: batchnorm_backward(d, cache)[0],
                                         of="y", wrt="x")
    assert report.ok and report.shape == (5, 3, 5, 3)
    with pytest.raises(AssertionError, match="dy/dx is wrong"):
        tcs.assert_jacobian_matches(
            f=f, x=x, vjp=lambda d: batchnorm_backward_unbiased(d, cache)[0], of="y", wrt="x")
    with pytest.raises(AssertionError, match="dx must have the input's shape"):
        tcs.assert_jacobian_matches(f=f, x=x, vjp=lambda d: d[0])
    with pytest.raises(TypeError, match="either a jacobian or vjp"):
        tcs.assert_jacobian_matches(f=f, x=x)
