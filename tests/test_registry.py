"""Every registered primitive against finite differences, single and batched."""

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc.layers import REGISTRY
from tensorcalc.layers.activations import LEAKY_SLOPE

CASES = [
    (name, wrt, batch)
    for name, prim in REGISTRY.items()
    for wrt in prim.derivatives
    for batch in (None, 3)
]


def _at(prim, args, wrt):
    k = prim.args.index(wrt)

    def f(v):
        return prim(*args[:k], v, *args[k + 1 :])

    return f, args[k]


@pytest.mark.parametrize("name,wrt,batch", CASES)
def test_derivative_matches_finite_differences(name, wrt, batch):
    prim = REGISTRY[name]
    args = prim.example(np.random.default_rng(7), batch)
    f, x = _at(prim, args, wrt)
    D = prim.derivative(*args, wrt=wrt)
    assert D.shape == np.shape(f(x)) + np.shape(x)
    report = tc.check_derivative(D, f, x)
    assert report.ok, str(report)


@pytest.mark.parametrize("name,wrt,batch", CASES)
def test_structured_equals_dense_when_chained(name, wrt, batch):
    """Contracting the structured network with a cotangent equals the dense einsum."""
    prim = REGISTRY[name]
    rng = np.random.default_rng(3)
    args = prim.example(rng, batch)
    D = prim.derivative(*args, wrt=wrt)
    v = rng.normal(size=D.out_shape)
    cot = tc.Derivative.from_array(v, (), D.out_shape, of="C", wrt=D.of)
    structured = tc.chain(cot, D).dense()
    reference = np.tensordot(v, D.dense(), axes=v.ndim)
    np.testing.assert_allclose(structured, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(tc.ACTIVATIONS))
def test_hadamard_rule_is_the_diagonal_jacobian(name):
    act = tc.ACTIVATIONS[name]
    rng = np.random.default_rng(11)
    (z,) = act.example(rng, 4)
    up = rng.normal(size=z.shape)
    via_jacobian = np.einsum("ni,nikl->kl", up, act.derivative(z).dense())
    np.testing.assert_allclose(act.hadamard(up, z), via_jacobian, rtol=1e-14, atol=1e-15)


def test_every_entry_has_a_formula_per_derivative():
    for prim in REGISTRY.values():
        assert set(prim.formulas) == set(prim.derivatives)
        assert all("/d" in text for text in prim.formulas.values())


def test_relu_derivative_at_zero_is_exactly_zero():
    z = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(tc.relu.prime(z), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(tc.relu.derivative(z).dense(), np.diag([0.0, 0.0, 1.0]))
    assert tc.leaky_relu.prime(np.array([0.0]))[0] == LEAKY_SLOPE


@pytest.mark.parametrize(
    "z,expected",
    [
        (np.array([0.0]), [0.5]),
        (np.array([np.log(3.0)]), [0.75]),
    ],
)
def test_sigmoid_closed_form(z, expected):
    np.testing.assert_allclose(tc.sigmoid(z), expected, rtol=1e-15)


def test_softmax_jacobian_closed_form_and_stability():
    z = np.array([1000.0, 1000.0 + np.log(3.0)])
    p = tc.softmax(z)
    np.testing.assert_allclose(p, [0.25, 0.75], rtol=1e-12)
    J = tc.softmax.derivative(z).dense()
    np.testing.assert_allclose(J, [[0.25 * 0.75, -0.25 * 0.75], [-0.25 * 0.75, 0.75 * 0.25]])
    np.testing.assert_allclose(tc.log_softmax(z), np.log([0.25, 0.75]), rtol=1e-12)


def test_losses_closed_forms():
    a, y = np.array([1.0, 2.0]), np.array([0.0, 4.0])
    assert tc.squared_error(a, y) == pytest.approx(1.0 + 4.0)
    batch = np.stack([a, a + 1])
    assert tc.squared_error(batch, np.stack([y, y])) == pytest.approx(((1 + 4) + (4 + 1)) / 2)
    p = np.array([0.2, 0.8])
    assert tc.cross_entropy(p, np.array([0.0, 1.0])) == pytest.approx(-np.log(0.8))
    assert tc.cross_entropy(p, 1) == pytest.approx(-np.log(0.8))
    z = np.array([0.0, np.log(3.0)])
    assert tc.nll(z, 1) == pytest.approx(-np.log(0.75))
    g = tc.nll.derivative(z, 1).dense()
    np.testing.assert_allclose(g, [0.25, -0.25], rtol=1e-12)
    gb = tc.nll.derivative(np.stack([z, z]), [1, 0]).dense()
    np.testing.assert_allclose(gb, [[0.125, -0.125], [-0.375, 0.375]], rtol=1e-12)


def test_linear_batch_keeps_batch_as_shared_label():
    rng = np.random.default_rng(0)
    W, a, b = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=4)
    dW = tc.linear.derivative(W, a, b, wrt="W")
    assert dW.kind == "matrix-by-matrix" and dW.shape == (5, 4, 4, 3)
    assert dW.out_labels == "ni" and dW.in_labels == "ij"
    dA = tc.linear.derivative(W, a, b, wrt="a")
    assert dA.deltas == "n" and dA.factors[0].array.shape == (4, 3)
    ref = np.einsum("nm,ij->nimj", np.eye(5), W)
    np.testing.assert_array_equal(dA.dense(), ref)
