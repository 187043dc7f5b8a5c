"""Finite differences and the checker, against closed forms and a planted error."""

import numpy as np
import pytest

import tensorcalc as tc


def test_numerical_derivative_kinds_and_closed_forms():
    x = np.array([0.3, -0.7, 1.1])
    J = tc.numerical_derivative(np.sin, x)
    assert J.kind == "jacobian"
    np.testing.assert_allclose(J.dense(), np.diag(np.cos(x)), atol=1e-9)
    g = tc.numerical_derivative(lambda v: np.sum(v**3), x)
    assert g.kind == "gradient"
    np.testing.assert_allclose(g.dense(), 3 * x**2, rtol=1e-8)
    M = np.arange(6.0).reshape(2, 3)
    s = tc.numerical_derivative(lambda m: np.sum(m * M), np.ones((2, 3)))
    assert s.kind == "scalar-by-matrix"
    np.testing.assert_allclose(s.dense(), M, atol=1e-8)
    v = tc.numerical_derivative(lambda t: np.array([t, t**2]), 2.0)
    assert v.kind == "vector-by-scalar"
    np.testing.assert_allclose(v.dense(), [1.0, 4.0], rtol=1e-8)
    T = tc.numerical_derivative(lambda m: m @ np.ones(3), np.ones((2, 3)))
    assert T.kind == "vector-by-matrix" and T.shape == (2, 2, 3)


def test_float32_step_is_larger():
    from tensorcalc.numeric import default_step

    assert default_step(np.float32) > 100 * default_step(np.float64)
    x = np.array([0.5, 1.5], dtype=np.float32)
    D = tc.numerical_derivative(lambda v: v**2, x)
    np.testing.assert_allclose(np.diag(D.dense()), 2 * x, rtol=1e-2)


def test_checker_catches_a_wrong_derivative_and_names_the_entry():
    z = np.array([0.2, -0.4, 0.9])
    good = tc.sigmoid.derivative(z)
    assert tc.check_derivative(good, tc.sigmoid, z).ok
    wrong = np.diag(good.dense().diagonal().copy())
    wrong[1, 1] *= 1.01
    bad = tc.Derivative.from_array(wrong, (3,), (3,), of="a", wrt="z")
    report = tc.check_derivative(bad, tc.sigmoid, z)
    assert not report.ok and not bool(report)
    assert report.out_index == (1,) and report.in_index == (1,)
    assert report.rel_error == pytest.approx(0.01, rel=1e-3)
    text = str(report)
    for piece in ("MISMATCH", "output (1,), input (1,)", "analytic", "numeric", "step", "float64"):
        assert piece in text


def test_checker_catches_a_transposed_jacobian():
    W = np.arange(6.0).reshape(2, 3)
    wrong = tc.Derivative.from_array(W.T.reshape(2, 3), (2,), (3,))
    assert not tc.check_derivative(wrong, lambda a: W @ a, np.ones(3)).ok


def test_checker_shape_mismatch():
    D = tc.Derivative.from_array(np.ones((2, 2)), (2,), (2,))
    with pytest.raises(tc.ShapeMismatchError, match="analytic jacobian"):
        tc.check_derivative(D, lambda v: v.sum(), np.ones(2))


def test_checker_judges_tiny_derivatives_on_their_own_scale():
    z = np.array([0.5, -1.0, 2.0])

    def f(v):
        return 1e-8 * np.sin(v)

    right = tc.Derivative.from_array(np.diag(1e-8 * np.cos(z)), (3,), (3,))
    wrong = tc.Derivative.from_array(np.diag(2e-8 * np.cos(z)), (3,), (3,))
    assert tc.check_derivative(right, f, z).ok
    assert not tc.check_derivative(wrong, f, z).ok
    z32 = z.astype(np.float32)
    flipped = tc.Derivative.from_array(np.diag(-1e-3 * np.cos(z32)), (3,), (3,))
    assert not tc.check_derivative(flipped, lambda v: 1e-3 * np.sin(v), z32).ok
