"""The one-line layer grammar: every word is read or rejected, with stride and padding words for
convolutions and pooling."""

import re

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc.layers import KINDS, AvgPool, Conv, MaxPool, grammar
from tensorcalc.layers.grammar import parse_layers


@pytest.mark.parametrize("spec,layer", [
    ("conv2d 2 3 stride 2 padding 1", tc.Conv2d(2, 3, stride=2, padding=1)),
    ("conv 4 3 s2 p1 d2 nobias", Conv(4, 3, stride=2, padding=1, dilation=2, bias=False)),
    ("conv 4 3x2 stride 2x1 dilation 2", Conv(4, (3, 2), stride=(2, 1), dilation=2)),
    ("conv1d 3 3 nobias padding 2", tc.Conv1d(3, 3, padding=2, bias=False)),
    ("maxpool 3 stride 1", MaxPool(3, stride=1)),
    ("avgpool 2x3 s1", AvgPool((2, 3), stride=1)),
    ("dropout 0.2 3", tc.Dropout(0.2, seed=3)),
    ("batchnorm 0.001 unbiased", tc.BatchNorm(eps=0.001, unbiased=True)),
    ("leaky_relu 0.2", tc.Activation("leaky_relu", slope=0.2)),
    ("dense 4 in_out nobias", tc.Dense(4, bias=False, weights="in_out")),
])
def test_options_are_read(spec, layer):
    assert repr(parse_layers(spec)) == repr([layer])


def test_stride_and_padding_words_change_the_network():
    net = tc.Network.stack("conv2d 2 3 stride 2 padding 1, maxpool 2 stride 1",
                           input_shape=(1, 7, 7))
    x = np.random.default_rng(0).normal(size=(1, 7, 7))
    y = tc.conv2d(x, net.params["K1"], net.params["b1"], stride=2, padding=1)
    np.testing.assert_allclose(net(x), tc.max_pool2d(y, 2, 1))
    assert net(x).shape == (2, 3, 3)


@pytest.mark.parametrize("spec,word,written", [
    ("conv 4 3 banana", "'banana'", "conv C K [stride S] [padding P] [dilation D] [nobias]"),
    ("conv2d 2 3 stride 2 stride 3", "'stride'", "conv2d C K [stride S]"),
    ("dropout 0.2 3 9", "'9'", "dropout P [seed]"),
    ("maxpool 3 2", "'2'", "maxpool K [stride S]"),
    ("avgpool 2 padding 1", "'padding'", "avgpool K [stride S]"),
    ("batchnorm 0.1 0.2", "'0.2'", "batchnorm [eps] [unbiased]"),
    ("layernorm unbiased", "'unbiased'", "layernorm [eps]"),
    ("groupnorm 2 0.1 7", "'7'", "groupnorm G [eps]"),
    ("embedding 3 4 5", "'5'", "embedding NUM DIM"),
    ("flatten 2", "'2'", "written 'flatten'"),
    ("relu 3", "'3'", "leaky_relu [slope]"),
    ("dense 4 nobias wide", "'wide'", "dense N [nobias] [in_out]"),
])
def test_unknown_or_extra_words_are_rejected(spec, word, written):
    with pytest.raises(tc.TensorcalcError) as info:
        parse_layers(spec)
    message = str(info.value)
    assert f"bad options in layer {spec!r}: unknown or extra word {word}" in message
    assert written in message


@pytest.mark.parametrize("spec,phrase", [
    ("maxpool 2 stride", "'stride' needs a value after it, e.g. 'stride 2'"),
    ("maxpool 2 stride x", "the stride must be a whole number, or one per axis such as 3x2; "
                           "got 'x'"),
    ("conv 4", "the kernel size K is missing"),
    ("dense", "the width N is missing"),
    ("dropout high", "the drop probability P must be a number; got 'high'"),
])
def test_missing_and_malformed_values_are_named(spec, phrase):
    with pytest.raises(tc.TensorcalcError, match=re.escape(phrase)):
        parse_layers(spec)


def test_a_residual_without_its_stack_is_a_clear_error():
    with pytest.raises(tc.TensorcalcError, match=re.escape("'residual' wraps a stack in "
                                                           "parentheses, e.g. 'residual(dense")):
        parse_layers("dense 4, residual")


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"activation", "residual"}))
def test_the_module_docstring_states_each_kinds_grammar(kind):
    """conv1d and conv2d are described beside conv; activations by their names."""
    written = (KINDS[kind].grammar or "{kind}").format(kind=kind)
    written = re.sub(r"^conv[12]d", "conv", written)
    assert f"``{written}``" in " ".join(grammar.__doc__.split()), written


def test_a_leaky_slope_round_trips_through_the_grammar():
    layer = tc.Activation("leaky_relu", slope=0.2)
    assert repr(parse_layers(layer.spec())) == repr([layer])
