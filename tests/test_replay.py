"""Recorded contractions replayed on new arrays (core/record.py, core/program.py), and the whole
Hessian's matrix replayed on new data and parameters against its blocks built afresh."""

import numpy as np
import pytest
from _hessians import draw_data
from hypothesis import given, settings
from test_second_order import CNN_CASES, RESIDUAL, _data, dense_cases

import tensorcalc as tc
import tensorcalc.strategies as tcs
from tensorcalc.core.program import compile_program, run_program
from tensorcalc.core.record import recording
from tensorcalc.core.term import Factor
from tensorcalc.second import replay, stacked
from tensorcalc.second.blocks import Parts
from tensorcalc.second.template import template


def _chain(rng):
    """d(V s(.) W x)/dx for random W (4, 3), s (4,), V (2, 4), structured; and its leaves by
    symbol."""
    W, s, V = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4))
    dW = tc.Derivative((Factor(W, "ij", "W"),), "i", "j", {"i": 4, "j": 3})
    ds = tc.Derivative((Factor(s, "i", "s"),), "i", "i", {"i": 4})
    dV = tc.Derivative((Factor(V, "ki", "V"),), "k", "i", {"k": 2, "i": 4})
    D = tc.chain(dV, ds, dW)
    return D, {f.symbol: [f.array] for f in D.terms[0].factors}


def _new_leaves(rng):
    return {"W": [rng.normal(size=(4, 3))], "s": [rng.normal(size=4)],
            "V": [rng.normal(size=(2, 4))]}


def _reference(leaves):
    return np.einsum("ki,i,ij->kj", leaves["V"][0], leaves["s"][0], leaves["W"][0])


def test_a_recorded_chain_replays_on_new_arrays():
    rng = np.random.default_rng(0)
    D, leaves = _chain(rng)
    with recording() as rec:
        D.dense()
    program = compile_program(rec, leaves)
    assert program is not None and len(program.steps) == 1
    new = _new_leaves(rng)
    (value,) = run_program(program, new)
    np.testing.assert_allclose(value.reshape(2, 3), _reference(new), rtol=1e-14)


def test_an_array_of_unknown_origin_is_not_replayable():
    D, leaves = _chain(np.random.default_rng(1))
    with recording() as rec:
        D.dense()
    del leaves["W"]
    assert compile_program(rec, leaves) is None


def test_a_contracted_result_feeds_a_later_step():
    rng = np.random.default_rng(2)
    D, leaves = _chain(rng)
    with recording() as rec:
        C = D.contracted("J")
        (C + C).dense()
    program = compile_program(rec, leaves)
    assert program is not None
    assert {s[0] for sk in program.steps[1][0] for s in sk.sources} == {"step"}
    new = _new_leaves(rng)
    values = run_program(program, new)
    np.testing.assert_allclose(values[-1].reshape(2, 3), 2 * _reference(new), rtol=1e-14)


def _dense_blocks(net, x, y):
    """Every block with every part materialised first (never compiled nor replayed)."""
    return tc.hessian(net, x, y, method="dense")


def _matrix(net, blocks):
    return np.block([[blocks[p, q].dense().reshape(net.params[p].size, net.params[q].size)
                      for q in net.params] for p in net.params])


def _other_parameters(net, rng):
    for name, value in net.params.items():
        net = net.with_param(name, value + 0.3 * rng.normal(size=value.shape))
    return net


def _assert_agree(net, x, y):
    """The matrix and every block of the structured method == the dense method's blocks."""
    dense = _dense_blocks(net, x, y)
    want = _matrix(net, dense)
    atol = 1e-13 * max(1.0, float(np.abs(want).max()))  # rounding, relative to the largest
    np.testing.assert_allclose(tc.hessian(net, x, y).matrix(), want, rtol=1e-12, atol=atol)
    H = tc.hessian(net, x, y)
    for key in H:
        np.testing.assert_allclose(H[key].dense(), dense[key].dense(), rtol=1e-12,
                                   atol=atol, err_msg=str(key))


def _compiled_matrices() -> int:
    return sum(key[-1] == "matrix" for key in replay._COMPILED)


def _assert_replays(net, x, y, x2, y2, rng):
    """The matrix and blocks at (x, y) compile; at new data and parameters they replay and
    still agree with the dense method. Returns how many matrix programs were kept."""
    replay._COMPILED.clear()
    _assert_agree(net, x, y)
    compiled = _compiled_matrices()
    _assert_agree(_other_parameters(net, rng), x2, y2)
    return compiled


@settings(max_examples=30, deadline=None)
@given(dense_cases(max_width=5))
def test_dense_stacks_replay_on_new_data_and_parameters(case):
    net, x, y = case
    rng = np.random.default_rng(3)
    x2 = rng.normal(size=x.shape)
    y2 = (rng.integers(net.sizes[-1], size=np.shape(y)) if np.asarray(y).dtype.kind == "i"
          else rng.uniform(size=np.shape(y)))
    _assert_replays(net, x, y, x2, y2, rng)


NETS = {
    "in_out weights, weight decay": lambda: tc.Network.stack(
        [tc.Dense(5, weights="in_out"), "tanh", tc.Dense(3, weights="in_out"), "softmax"],
        input_shape=(4,), loss="cross_entropy", weight_decay=0.1, seed=1),
    "hidden softmax, layer norm": lambda: tc.Network.stack(
        [tc.Dense(5), tc.Softmax(), tc.Dense(4), tc.LayerNorm(), tc.Dense(2)],
        input_shape=(3,), loss="squared_error", seed=2),
    "batch norm, sigmoid output": lambda: tc.Network.stack(
        [tc.Dense(6), tc.BatchNorm(), "elu", tc.Dense(2), "sigmoid"], input_shape=(3,),
        loss="binary_cross_entropy", seed=3),
}


@pytest.mark.parametrize("name", list(NETS) + list(RESIDUAL))
def test_norms_softmax_residual_and_embeddings_replay(name):
    rng = np.random.default_rng(4)
    net = (NETS | RESIDUAL)[name]()
    x, y = _data(net, rng) if name in RESIDUAL else draw_data(net, 5, rng)
    x2, y2 = _data(net, rng) if name in RESIDUAL else draw_data(net, 5, rng)
    if isinstance(net.layers[-1], tc.Activation) and net.loss_fn.name == "binary_cross_entropy":
        y, y2 = rng.uniform(size=y.shape), rng.uniform(size=y2.shape)
    compiled = _assert_replays(net, x, y, x2, y2, rng)
    convolution = "conv" in " ".join(layer.spec() for layer in net.layers)
    assert compiled == (0 if convolution else 1)  # a convolution's columns are not recorded


def test_embedding_and_dropout_replay():
    rng = np.random.default_rng(5)
    net, x, y = CNN_CASES["embedding, dropout"](rng)
    _, x2, y2 = CNN_CASES["embedding, dropout"](np.random.default_rng(6))
    assert _assert_replays(net, x, y, x2, y2, rng) == 1


def test_a_part_left_out_as_zero_is_recompiled_when_it_is_not():
    """With W2 = 0 the gradient at a^1 is zero, so layer 2's curvature part is left out; at
    other parameters it is not zero, and the matrix must include it."""
    net = tc.Network.random([3, 5, 2], hidden="tanh", output="softmax", loss="cross_entropy",
                            seed=6)
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(4, 3)), rng.integers(2, size=4)
    flat = net.with_param("W2", np.zeros_like(net.params["W2"]))
    replay._COMPILED.clear()
    _assert_agree(flat, x, y)
    assert all(done.absent for done in replay._COMPILED.values())  # the part was left out
    _assert_agree(net, x, y)


@pytest.mark.parametrize("name", RESIDUAL)
def test_each_part_placed_from_its_compact_value_equals_its_dense_value(name):
    """Transposed sums too (a bilinear part read the other way): their letters are canonical."""
    net = RESIDUAL[name]()
    x, y = _data(net, np.random.default_rng(7))
    parts, names = Parts(net, template(net), x, y), list(net.params)
    for i, p in enumerate(names):
        for j, q in enumerate(names):
            for part, d in parts.block(p, q, logits=False).items():
                place = stacked._placement(d, i, j)
                out = np.zeros(d.shape)
                np.einsum(place.view, out)[...] += np.einsum(place.align, d.compact)[place.index]
                np.testing.assert_allclose(out, d.dense(), rtol=1e-14, atol=1e-15,
                                           err_msg=f"{p}, {q}: {part}")


def test_losses_differing_in_scale_or_reduction_do_not_share_a_program():
    layers = [tc.Dense(4), "tanh", tc.Dense(2)]
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    mean = tc.Network.stack(layers, input_shape=(3,), loss="squared_error", seed=1)
    half_sum = tc.Network.stack(layers, input_shape=(3,), seed=1,
                                loss=tc.Loss("squared_error", scale=0.5, reduction="sum"))
    replay._COMPILED.clear()
    first = tc.hessian(mean, x, y)
    M = first.matrix()
    blocks = {key: first[key].dense() for key in first}
    second = tc.hessian(half_sum, x, y)  # C = 0.5 sum_n = 1.5 x (1/3) sum_n
    np.testing.assert_allclose(second.matrix(), 1.5 * M, rtol=1e-12, atol=1e-14)
    for key, block in blocks.items():
        np.testing.assert_allclose(second[key].dense(), 1.5 * block, rtol=1e-12, atol=1e-14)


def test_the_dense_method_is_never_replayed(monkeypatch):
    net = tc.Network.random([3, 4, 2], hidden="tanh", seed=9)
    x, y = np.ones((2, 3)), np.zeros((2, 2))
    replay._COMPILED.clear()
    full = tc.hessian(net, x, y, "W1").dense()  # compiled
    monkeypatch.setattr(replay, "run_program", lambda *a: pytest.fail("the dense method replayed"))
    np.testing.assert_allclose(tc.hessian(net, x, y, "W1", method="dense").dense(), full,
                               rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(tcs.stacks(max_depth=3, max_width=4, max_batch=3))
def test_drawn_stacks_replay_without_mixing_up_structures(case):
    """Every layer kind, loss scale and reduction, weight decay: the cache is not cleared
    between examples, so a structure the key failed to tell apart would replay another's
    program and disagree with the dense method."""
    net, x, y = case
    _assert_agree(net, x, y)
    _assert_agree(_other_parameters(net, np.random.default_rng(10)), x, y)
    loss = net.loss_fn
    twin = tc.Network(net.layers, input_shape=net.input_shape, params=dict(net.params),
                      numbering=net.numbering, weight_decay=0.03 - net.weight_decay,
                      loss=tc.Loss(loss.name, scale=1.5 - loss.scale,
                                   reduction="sum" if loss.reduction == "mean" else "mean"))
    _assert_agree(twin, x, y)  # another loss scale, reduction and weight decay


@settings(max_examples=8, deadline=None)
@given(tcs.conv_stacks(max_size=6))
def test_drawn_cnns_replay_their_blocks_without_a_convolution_column_term(case):
    """Blocks of a CNN without a convolution's column-by-column term are compiled and
    replayed; the others are built afresh. Both agree with the dense method."""
    net, x, y = case
    _assert_agree(net, x, y)
    _assert_agree(_other_parameters(net, np.random.default_rng(11)), x, y)


def test_a_float32_network_keeps_its_type_and_does_not_share_a_float64_program():
    """An embedding reads integer ids, so the input's type does not tell the two apart; the
    network's signature does. Weight decay's 2c stays float32 too."""
    layers = [tc.Embedding(5, 3), tc.Flatten(), tc.Dense(4), "tanh", tc.Dense(3), "softmax"]
    x, y = np.array([[0, 1], [2, 3], [4, 0]]), np.array([0, 2, 1])
    replay._COMPILED.clear()
    for dtype in (np.float64, np.float32):
        net = tc.Network.stack(layers, loss="cross_entropy", input_shape=(2,), seed=0,
                               dtype=dtype, weight_decay=0.2)
        H, D = tc.hessian(net, x, y), tc.hessian(net, x, y, method="dense")
        tol = 1e-12 if dtype == np.float64 else 1e-5
        M = H.matrix()
        assert M.dtype == dtype
        np.testing.assert_allclose(M, _matrix(net, D), rtol=tol, atol=tol)
        for key in H:
            assert H[key].dense().dtype == dtype, key
