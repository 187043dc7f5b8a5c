"""Convolutional networks: every method agrees on drawn CNNs, the rot180 shortcut is the chain
rule, the chain on a 64x64 image never builds the dense 6-tensor."""

import tracemalloc

import numpy as np
import pytest
from _agree import assert_exact_methods_agree, assert_full_matches_numeric
from hypothesis import given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs


@settings(max_examples=120)
@given(tcs.conv_stacks())
def test_full_dense_shortcut_agree_on_cnns(case):
    assert_exact_methods_agree(*case)


@settings(max_examples=40)
@given(tcs.conv_stacks(max_size=8, max_channels=3, max_batch=2))
def test_full_matches_finite_differences_on_cnns(case):
    assert_full_matches_numeric(*case)


def test_rot180_full_convolution_is_the_chain_rule():
    """The classic input gradient, written out here with explicit loops over taps."""
    rng = np.random.default_rng(0)
    x, K = rng.normal(size=(2, 7, 6)), rng.normal(size=(3, 2, 3, 2))
    D = tc.conv2d.derivative(x, K, None, wrt="x", stride=2, padding=1)
    g = rng.normal(size=D.out_shape)
    chained = tc.chain(tc.Derivative.from_array(g, (), g.shape, of="C", wrt="Y"), D).dense()
    # reference: scatter each output's gradient through the kernel (the definition)
    xp = np.zeros((2, 9, 8))
    for c in range(3):
        for o in range(g.shape[1]):
            for q in range(g.shape[2]):
                xp[:, 2 * o: 2 * o + 3, 2 * q: 2 * q + 2] += g[c, o, q] * K[c]
    np.testing.assert_allclose(chained, xp[:, 1:8, 1:7], rtol=1e-12, atol=1e-14)
    assert D.structure == "dense, 2 window relations"
    assert "[i = 2o + k - 1] [j = 2p + l - 1]" in D.index_notation()


def test_the_chain_on_a_64x64_image_stays_far_below_the_dense_6_tensor():
    rng = np.random.default_rng(1)
    x, K = rng.normal(size=(3, 64, 64)), rng.normal(size=(8, 3, 3, 3))
    D = tc.conv2d.derivative(x, K, None, wrt="x", padding=1)
    assert D.nbytes_dense == 8 * (8 * 64 * 64) * (3 * 64 * 64)  # 3.2 GB
    g = tc.Derivative.from_array(rng.normal(size=D.out_shape), (), D.out_shape, of="C",
                                 wrt="Y")
    tracemalloc.start()
    result = tc.chain(g, D).compact
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * 8 * 64 * 64 * 8  # a few im2col-sized arrays, not 3.2 GB
    assert result.shape == (3, 64, 64)


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[1.0, 3.0, 3.0, 0.0]])
    D = tc.max_pool1d.derivative(x, 2)
    np.testing.assert_array_equal(D.dense()[0, :, 0, :], [[0, 1, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(tc.max_pool1d(x, 3, 1), [[3.0, 3.0]])
    tie = tc.max_pool1d.derivative(x, 3, 1).dense()[0, :, 0, :]
    np.testing.assert_array_equal(tie, [[0, 1, 0, 0], [0, 1, 0, 0]])


@pytest.mark.parametrize("call,phrase", [
    (lambda: tc.Network.stack([tc.Conv2d(2, 5)], input_shape=(1, 3, 3)), "larger than"),
    (lambda: tc.Conv2d(2, 3, stride=0), "stride must be"),
    (lambda: tc.Conv2d(2, 3, padding=-1), "padding must be"),
    (lambda: tc.Conv2d(2, 3, dilation=0), "dilation must be"),
    (lambda: tc.Network.stack([tc.Flatten(), tc.Conv2d(2, 3)], input_shape=(1, 4, 4)),
     "layer 2 (conv2d)"),
    (lambda: tc.Network.stack([tc.Conv2d(2, 3)], input_shape=(2, 4, 4),
                              params={"K1": np.ones((2, 3, 3, 3)), "b1": np.zeros(2)}),
     "K1 must have shape (2, 2, 3, 3)"),
])
def test_bad_cnn_input(call, phrase):
    with pytest.raises(tc.TensorcalcError) as info:
        call()
    assert phrase in str(info.value)


def test_plots_of_a_conv_jacobian_and_a_kernel_gradient(tmp_path):
    pytest.importorskip("matplotlib")
    net = tc.Network.stack("conv 2 3, relu, flatten, dense 3", input_shape=(2, 5, 5), seed=0)
    x = np.random.default_rng(0).normal(size=(2, 5, 5))
    g = tc.backprop(net, x, np.zeros(3))
    ax = tc.plot(g["K1"]).axes[0]
    assert ax.images[0].get_array().shape == (2 * 3, 2 * 3)  # (C_out kh, C_in kw) blocks
    rec = net.forward(x).records[0]
    fig = tc.plot(rec.node.layer.local(rec.ctx, "x"))
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (2 * 3 * 3, 2 * 5 * 5) and shown.mask.mean() > 0.5  # grey zeros
    fig.savefig(tmp_path / "conv.png", dpi=40)
