"""Every registered layer kind: its local derivatives against finite differences and against
their dense form, its shortcut backward against the chain rule, and its formulas."""

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc.layers import KINDS

CASES = [(kind, batch) for kind in KINDS for batch in (None, 3)
         if not (KINDS[kind].needs_batch and batch is None)]


def _case(kind, batch):
    shape = KINDS[kind].example_input
    net = tc.Network.stack([KINDS[kind].example()], input_shape=shape, seed=1)
    x = KINDS[kind].example_data(np.random.default_rng(2), ((batch,) if batch else ()) + shape)
    return net, x


def _wrts(net):
    first = net.layers[0]
    return (["x"] if "no derivative" not in first.formulas["x"] else []) + [*net.params]


@pytest.mark.parametrize("kind,batch", CASES)
def test_local_derivatives_match_finite_differences(kind, batch):
    net, x = _case(kind, batch)
    for wrt in _wrts(net):
        D = tc.jacobian(net, x, wrt=wrt)
        if wrt == "x":
            f, at = net, x
        else:
            def f(v, wrt=wrt):
                return net.with_param(wrt, v)(x)
            at = net.params[wrt]
        assert D.shape == np.shape(net(x)) + np.shape(at)
        report = tc.check_derivative(D, f, at)
        assert report.ok, f"{kind} d/d{wrt}\n{report}"


@pytest.mark.parametrize("kind,batch", CASES)
def test_structured_equals_dense_when_chained(kind, batch):
    net, x = _case(kind, batch)
    rng = np.random.default_rng(4)
    for wrt in _wrts(net):
        D = tc.jacobian(net, x, wrt=wrt)
        v = rng.normal(size=D.out_shape)
        cot = tc.Derivative.from_array(v, (), D.out_shape, of="C", wrt=D.of)
        reference = np.tensordot(v, D.dense(), axes=v.ndim)
        np.testing.assert_allclose(tc.chain(cot, D).dense(), reference, rtol=1e-12,
                                   atol=1e-12)


@pytest.mark.parametrize("kind,batch", [c for c in CASES if c[0] != "residual"])
def test_shortcut_backward_is_the_chain_rule(kind, batch):
    net, x = _case(kind, batch)
    rec = net.forward(x).records[0]
    layer = rec.node.layer
    g = np.random.default_rng(5).normal(size=rec.ctx.y.shape)
    gx, grads = layer.backward(g, rec.ctx)
    cot = tc.Derivative.from_array(g, (), g.shape, of="C", wrt="y")
    for wrt, mine in [("x", gx), *grads.items()] if gx is not None else grads.items():
        D = layer.local(rec.ctx, wrt)
        np.testing.assert_allclose(mine, tc.chain(cot, D).dense(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_states_a_formula_per_derivative(kind):
    layer = KINDS[kind].example()
    assert set(layer.formulas) == {"x", *layer.params}
    assert all("/d" in text for text in layer.formulas.values())


@pytest.mark.parametrize("kind", list(KINDS))
def test_spec_round_trips_through_the_grammar(kind):
    from tensorcalc.layers.grammar import parse_layers

    layer = KINDS[kind].example()
    (again,) = parse_layers(layer.spec())
    assert repr(again) == repr(layer)


@pytest.mark.parametrize("kind,batch", [c for c in CASES if c[0] != "residual"])
def test_replayed_arrays_are_the_local_factors(kind, batch):
    """What a compiled chain replays is exactly what the structured derivative holds."""
    net, x = _case(kind, batch)
    rec = net.forward(x).records[0]
    layer = rec.node.layer
    for wrt in ["x"][: "no derivative" not in layer.formulas["x"]] + list(layer.params):
        D = layer.local(rec.ctx, wrt)
        factors = [a for t in D.terms for a in t.operand_arrays()]
        arrays = layer.local_arrays(rec.ctx, wrt)
        assert len(arrays) == len(factors)
        for a, f in zip(arrays, factors):
            np.testing.assert_array_equal(a, f)
