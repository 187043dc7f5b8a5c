"""The student-code fixtures themselves: each correct function agrees with central differences on
tiny inputs, and each buggy variant differs (or raises) exactly as its docstring says."""

import numpy as np
import pytest
from students import layer_functions as lf
from students import manual_backprop as mb


def numeric_grad(f, x, h=1e-6):
    """Central differences of the scalar f() with respect to the array x (perturbed in place)."""
    g = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f()
        x[idx] = old - h
        fm = f()
        x[idx] = old
        g[idx] = (fp - fm) / (2 * h)
    return g


def close(a, b, tol=1e-6):
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(float(np.max(np.abs(b))), 1e-3)
    return float(np.max(np.abs(a - b))) / scale <= tol


def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------------
# correct layer functions against central differences
# ---------------------------------------------------------------------------------------------


def _cases():
    r = rng()
    bn = {"mode": "train", "eps": 1e-5}
    yield "affine", (lambda x, w, b: lf.affine_forward(x, w, b)), lf.affine_backward, [
        r.standard_normal((3, 2, 2)), r.standard_normal((4, 3)), r.standard_normal(3)]
    yield "relu", lf.relu_forward, lambda d, c: (lf.relu_backward(d, c),), [
        r.standard_normal((3, 4))]
    yield "batchnorm", (lambda x, g, b: lf.batchnorm_forward(x, g, b, dict(bn))), \
        lf.batchnorm_backward, [r.standard_normal((5, 3)) * 2 + 1, r.standard_normal(3),
                                r.standard_normal(3)]
    yield "batchnorm_alt", (lambda x, g, b: lf.batchnorm_forward(x, g, b, dict(bn))), \
        lf.batchnorm_backward_alt, [r.standard_normal((5, 3)), r.standard_normal(3),
                                    r.standard_normal(3)]
    yield "layernorm", (lambda x, g, b: lf.layernorm_forward(x, g, b, {"eps": 1e-5})), \
        lf.layernorm_backward, [r.standard_normal((3, 5)), r.standard_normal(5),
                                r.standard_normal(5)]
    yield "dropout", (lambda x: lf.dropout_forward(x, {"p": 0.4, "mode": "train", "seed": 3})), \
        lambda d, c: (lf.dropout_backward(d, c),), [r.standard_normal((4, 5))]
    for pad, stride in [(0, 1), (1, 2)]:
        cp = {"pad": pad, "stride": stride}
        yield f"conv pad={pad} stride={stride}", \
            (lambda x, w, b, cp=cp: lf.conv_forward_naive(x, w, b, cp)), \
            lf.conv_backward_naive, [r.standard_normal((2, 2, 5, 4)),
                                     r.standard_normal((3, 2, 3, 2)), r.standard_normal(3)]
    for ph, pw, s in [(2, 2, 2), (3, 3, 2)]:
        pp = {"pool_height": ph, "pool_width": pw, "stride": s}
        yield f"max_pool {ph}x{pw}/{s}", (lambda x, pp=pp: lf.max_pool_forward_naive(x, pp)), \
            lambda d, c: (lf.max_pool_backward_naive(d, c),), [r.standard_normal((2, 2, 5, 5))]
    yield "spatial_batchnorm", \
        (lambda x, g, b: lf.spatial_batchnorm_forward(x, g, b, dict(bn))), \
        lf.spatial_batchnorm_backward, [r.standard_normal((2, 3, 2, 3)), r.standard_normal(3),
                                        r.standard_normal(3)]
    yield "spatial_groupnorm", \
        (lambda x, g, b: lf.spatial_groupnorm_forward(x, g, b, 2, {"eps": 1e-5})), \
        lf.spatial_groupnorm_backward, [r.standard_normal((2, 4, 2, 2)), r.standard_normal(4),
                                        r.standard_normal(4)]


CASES = {name: (fwd, bwd, arrays) for name, fwd, bwd, arrays in _cases()}


@pytest.mark.parametrize("name", list(CASES))
def test_correct_layer_matches_central_differences(name):
    fwd, bwd, arrays = CASES[name]
    out, cache = fwd(*arrays)
    dout = rng().standard_normal(out.shape)
    grads = bwd(dout.copy(), cache)
    assert len(grads) == len(arrays)
    for a, g in zip(arrays, grads):
        num = numeric_grad(lambda: float(np.sum(fwd(*arrays)[0] * dout)), a)
        assert close(g, num), name


@pytest.mark.parametrize("loss_fn", [lf.svm_loss, lf.softmax_loss])
def test_correct_losses_match_central_differences(loss_fn):
    r = rng()
    x, y = r.standard_normal((4, 5)), r.integers(0, 5, 4)
    _, dx = loss_fn(x, y)
    assert close(dx, numeric_grad(lambda: loss_fn(x, y)[0], x))


def test_dropout_conventions():
    x = np.ones((200, 50))
    out, cache = lf.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 0})
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.02 and np.allclose(out[kept], 1 / 0.7)
    out_test, cache_test = lf.dropout_forward(x, {"p": 0.3, "mode": "test"})
    assert np.array_equal(out_test, x) and np.array_equal(lf.dropout_backward(x, cache_test), x)
    bn = {"mode": "train"}
    lf.batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2), bn)
    assert "running_mean" in bn and "running_var" in bn


def test_relu_derivative_at_zero_is_zero():
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = lf.relu_forward(x)
    assert np.array_equal(lf.relu_backward(np.ones_like(x), cache), [[0.0, 0.0, 1.0]])


def test_max_pool_ties_and_overlap():
    x = np.zeros((1, 1, 4, 4))
    _, cache = lf.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = lf.max_pool_backward_naive(np.ones((1, 1, 2, 2)), cache)
    assert dx[0, 0, 0, 0] == 1 and dx.sum() == 4  # first maximum of each window
    x = rng().standard_normal((1, 1, 5, 5))
    x[0, 0, 2, 2] = 10.0  # the maximum of all four overlapping 3x3 windows
    _, cache = lf.max_pool_forward_naive(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert lf.max_pool_backward_naive(dout, cache)[0, 0, 2, 2] == 10.0


# ---------------------------------------------------------------------------------------------
# buggy layer functions
# ---------------------------------------------------------------------------------------------


def _affine(D=4, M=4):
    r = rng()
    x, w, b = r.standard_normal((3, D)), r.standard_normal((D, M)), r.standard_normal(M)
    out, cache = lf.affine_forward(x, w, b)
    return r.standard_normal(out.shape), cache


def test_affine_no_transpose():
    dout, cache = _affine()
    dw_true = lf.affine_backward(dout, cache)[1]
    dw = lf.affine_backward_no_transpose(dout, cache)[1]
    assert dw.shape == dw_true.shape and np.allclose(dw, dw_true.T) and not close(dw, dw_true)
    dout, cache = _affine(4, 2)
    assert lf.affine_backward_no_transpose(dout, cache)[1].shape == (2, 4)


def test_affine_sign():
    dout, cache = _affine()
    assert np.allclose(lf.affine_backward_sign(dout, cache)[1], -lf.affine_backward(dout, cache)[1])


def test_inplace_variants_right_values_but_mutate_dout():
    dout, cache = _affine()
    d = dout.copy()
    for got, want in zip(lf.affine_backward_inplace(d, cache), lf.affine_backward(dout, cache)):
        assert np.allclose(got, want)
    assert not np.array_equal(d, dout)
    x = rng().standard_normal((3, 4))
    _, cache = lf.relu_forward(x)
    d = dout.copy()
    dx = lf.relu_backward_inplace(d, cache)
    assert np.array_equal(dx, lf.relu_backward(dout, cache))
    assert dx is d and not np.array_equal(d, dout)


def test_relu_at_zero_one():
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = lf.relu_forward(x)
    assert np.array_equal(lf.relu_backward_at_zero_one(np.ones_like(x), cache), [[0, 1, 1]])


def _bn():
    r = rng()
    x, g, b = r.standard_normal((6, 3)), r.standard_normal(3), r.standard_normal(3)
    out, cache = lf.batchnorm_forward(x, g, b, {"mode": "train"})
    return r.standard_normal(out.shape), cache


def test_batchnorm_row_params_and_unbiased():
    dout, cache = _bn()
    dx, dg, db = lf.batchnorm_backward(dout, cache)
    bdx, bdg, bdb = lf.batchnorm_backward_row_params(dout, cache)
    assert bdg.shape == bdb.shape == (1, 3) and np.allclose(bdg[0], dg) and np.allclose(bdx, dx)
    udx, udg, udb = lf.batchnorm_backward_unbiased(dout, cache)
    assert np.allclose(udg, dg) and np.allclose(udb, db) and not close(udx, dx, 1e-4)


def test_dropout_keep_p():
    x = np.ones((200, 50))
    param = {"p": 0.3, "mode": "train", "seed": 0}
    out, cache = lf.dropout_forward_keep_p(x, param)
    kept = out != 0
    assert abs(kept.mean() - 0.3) < 0.02 and np.allclose(out[kept], 1 / 0.3)
    good_out, good_cache = lf.dropout_forward(x, param)
    dx = lf.dropout_backward_keep_p(x, good_cache)
    assert np.allclose(dx, lf.dropout_backward(x, good_cache) * 0.7 / 0.3)


def test_conv_pad_slice():
    r = rng()
    x, w, b = r.standard_normal((1, 2, 4, 4)), r.standard_normal((2, 2, 3, 3)), np.zeros(2)
    out, cache = lf.conv_forward_naive(x, w, b, {"pad": 0, "stride": 1})
    assert lf.conv_backward_naive_pad_slice(np.ones_like(out), cache)[0].shape == (1, 2, 0, 0)
    out, cache = lf.conv_forward_naive(x, w, b, {"pad": 1, "stride": 1})
    dout = r.standard_normal(out.shape)
    assert np.allclose(lf.conv_backward_naive_pad_slice(dout, cache)[0],
                       lf.conv_backward_naive(dout, cache)[0])


def test_max_pool_buggy():
    x = rng().standard_normal((1, 1, 5, 5))
    x[0, 0, 2, 2] = 10.0
    _, cache = lf.max_pool_forward_naive(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert lf.max_pool_backward_assign(dout, cache)[0, 0, 2, 2] == 4.0
    assert lf.max_pool_backward_first_not_accumulate(dout, cache)[0, 0, 2, 2] == 4.0
    zeros = np.zeros((1, 1, 4, 4))
    _, cache = lf.max_pool_forward_naive(zeros, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError):
        lf.max_pool_backward_assign(np.ones((1, 1, 2, 2)), cache)
    assert lf.max_pool_backward_first_not_accumulate(np.ones((1, 1, 2, 2)), cache).sum() == 4


def test_groupnorm_shape_variant():
    r = rng()
    out, cache = lf.spatial_groupnorm_forward(
        r.standard_normal((2, 4, 2, 2)), r.standard_normal(4), r.standard_normal(4), 2, {})
    dout = r.standard_normal(out.shape)
    _, dg, db = lf.spatial_groupnorm_backward(dout, cache)
    _, bdg, bdb = lf.spatial_groupnorm_backward_shape(dout, cache)
    assert bdg.shape == bdb.shape == (1, 4, 1, 1) and np.allclose(bdg.ravel(), dg)


def test_softmax_no_mean():
    r = rng()
    x, y = r.standard_normal((4, 5)), r.integers(0, 5, 4)
    assert np.allclose(lf.softmax_loss_no_mean(x, y)[1], 4 * lf.softmax_loss(x, y)[1])


# ---------------------------------------------------------------------------------------------
# manual backprop
# ---------------------------------------------------------------------------------------------

SMALL = {"vocab": 6, "T": 2, "emb_dim": 3, "hidden": 5, "N": 8}


def _mb_case(seed=0):
    params, Xb, Yb = mb.make_case(seed=seed, **SMALL)
    loss, cache = mb.forward(params, Xb, Yb)
    return params, Xb, Yb, cache, mb.manual_backward(params, Xb, Yb, cache)


def test_make_case_is_deterministic_and_has_repeats():
    a, b = mb.make_case(seed=3), mb.make_case(seed=3)
    assert all(np.array_equal(a[0][k], b[0][k]) for k in mb.PARAM_NAMES)
    assert np.array_equal(a[1], b[1]) and a[1].shape == (32, 3) and a[2].shape == (32,)
    assert len(np.unique(a[1])) < a[1].size


def test_manual_backward_keys_shapes_and_params():
    params, Xb, Yb, cache, g = _mb_case()
    names = set(mb.INTERMEDIATES) | set(mb.PARAM_NAMES)
    assert set(g) == {f"d{k}" for k in names}
    for k in names:
        assert g[f"d{k}"].shape == (params[k] if k in params else cache[k]).shape, k
    for k in mb.PARAM_NAMES:
        num = numeric_grad(lambda: mb.forward(params, Xb, Yb)[0], params[k])
        assert close(g[f"d{k}"], num), k


def test_manual_backward_intermediates_and_closed_forms():
    params, Xb, Yb, cache, g = _mb_case()

    def loss_from_logits(logits):
        z = logits - logits.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -logp[np.arange(len(Yb)), Yb].mean()

    def loss_from_hpreact(hpreact):
        return loss_from_logits(np.tanh(hpreact) @ params["W2"] + params["b2"])

    def loss_from_hprebn(hprebn):
        diff = hprebn - hprebn.mean(0, keepdims=True)
        var = (diff**2).sum(0, keepdims=True) / (len(Yb) - 1)
        raw = diff * (var + mb.EPS) ** -0.5
        return loss_from_hpreact(params["bngain"] * raw + params["bnbias"])

    for name, f in [("logits", loss_from_logits), ("hpreact", loss_from_hpreact),
                    ("hprebn", loss_from_hprebn)]:
        value = cache[name].copy()
        assert close(g[f"d{name}"], numeric_grad(lambda f=f, v=value: f(v), value)), name
    assert np.allclose(mb.closed_form_dlogits(cache["logits"], Yb), g["dlogits"], atol=1e-14)
    assert np.allclose(
        mb.closed_form_dhprebn(cache["hprebn"], params["bngain"], g["dhpreact"]),
        g["dhprebn"], atol=1e-14)


def test_manual_backward_buggy_variants():
    params, Xb, Yb, cache, g = _mb_case()
    args = (params, Xb, Yb, cache)

    def wrong(gb):
        return {k for k in g if not np.allclose(gb[k], g[k], rtol=1e-9, atol=1e-12)}

    assert wrong(mb.manual_backward_stale_batch(*args)) == {"dC"}
    assert wrong(mb.manual_backward_stale_batch(*args, Xb_prev=mb.make_case(1, **SMALL)[1])) \
        == {"dC"}
    assert wrong(mb.manual_backward_assign_embedding(*args)) == {"dC"}
    assert {"dbndiff2", "dhprebn", "dW1", "dC"} <= wrong(mb.manual_backward_biased_bn(*args))
    bad = wrong(mb.manual_backward_tanh_wrong(*args))
    assert {"dhpreact", "dbngain", "dW1", "dC"} <= bad and "dh" not in bad
