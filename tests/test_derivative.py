"""Derivative: kinds, shapes, dense(), layouts, memory limit, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorcalc as tc
from tensorcalc import strategies as tcs

KINDS = {
    ((), ()): "scalar-by-scalar",
    ((), (3,)): "gradient",
    ((), (3, 2)): "scalar-by-matrix",
    ((3,), ()): "vector-by-scalar",
    ((3,), (2,)): "jacobian",
    ((3,), (3, 2)): "vector-by-matrix",
    ((3, 2), ()): "matrix-by-scalar",
    ((3, 2), (4,)): "matrix-by-vector",
    ((3, 2), (2, 2)): "matrix-by-matrix",
    ((1, 1, 1), (2,)): "rank3-by-rank1",
}


@pytest.mark.parametrize("shapes,kind", list(KINDS.items()))
def test_kind_from_ranks(shapes, kind):
    out_shape, in_shape = shapes
    D = tc.Derivative.from_array(np.zeros(out_shape + in_shape), out_shape, in_shape)
    assert D.kind == kind
    assert D.shape == out_shape + in_shape
    assert (D.out_shape, D.in_shape) == (out_shape, in_shape)


def seed003_layer():
    rng = np.random.default_rng(1)
    W, a = rng.normal(size=(4, 3)), rng.normal(size=3)
    return W, a


def test_worked_example_dz_dW():
    W, a = seed003_layer()
    D = tc.linear.derivative(W, a, wrt="W")
    assert D.kind == "vector-by-matrix"
    dense = D.dense()
    assert dense.shape == (4, 4, 3)
    for i in range(4):
        for k in range(4):
            for j in range(3):
                assert dense[i, k, j] == (a[j] if i == k else 0.0)
    num = D.to_layout("numerator")
    assert num.shape == (4, 3, 4)
    np.testing.assert_array_equal(num, np.transpose(dense, (0, 2, 1)))
    assert D.structural_zero_fraction == pytest.approx(0.75)
    assert D.nbytes_dense == 4 * 4 * 3 * 8


def test_worked_example_scalar_by_matrix_and_gradient_layouts():
    G = tc.Derivative.from_array(np.arange(12.0).reshape(4, 3), (), (4, 3), of="C", wrt="W")
    assert G.to_layout("canonical").shape == (4, 3)
    assert G.to_layout("numerator").shape == (3, 4)
    np.testing.assert_array_equal(G.to_layout("numerator"), G.dense().T)
    assert G.to_layout("denominator").shape == (4, 3)
    g = tc.Derivative.from_array(np.arange(5.0), (), (5,), of="C", wrt="a")
    assert g.kind == "gradient"
    assert g.to_layout("numerator").shape == (1, 5)
    assert g.to_layout("denominator").shape == (5, 1)
    J = tc.Derivative.from_array(np.arange(6.0).reshape(2, 3), (2,), (3,))
    np.testing.assert_array_equal(J.to_layout("numerator"), J.dense())
    np.testing.assert_array_equal(J.to_layout("denominator"), J.dense().T)


@given(tcs.derivatives(), st.sampled_from(["canonical", "numerator", "denominator"]))
def test_layout_round_trip(D, layout):
    arr = D.to_layout(layout)
    back = tc.Derivative.from_layout(arr, layout, D.out_shape, D.in_shape)
    np.testing.assert_array_equal(back.dense(), D.dense())


@given(tcs.derivatives())
def test_contracted_keeps_value_and_deltas(D):
    C = D.contracted()
    assert C.deltas == D.deltas
    np.testing.assert_allclose(C.dense(), D.dense(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(D), D.dense())


def test_identity_and_structure_names():
    eye = tc.Derivative.identity((3,))
    np.testing.assert_array_equal(eye.dense(), np.eye(3))
    assert eye.structure == "identity"
    assert tc.sigmoid.derivative(np.zeros(3)).structure == "diagonal"
    W, a = seed003_layer()
    assert tc.linear.derivative(W, a, wrt="W").structure == "1 delta"
    assert tc.linear.derivative(W, a, wrt="a").structure == "dense"


def test_repr_names_kind_symbols_shapes_structure_and_size():
    W, a = seed003_layer()
    text = repr(tc.linear.derivative(W, a, wrt="W", names={"W": "W^2", "out": "z^2"}))
    for piece in ("vector-by-matrix", "dz^2/dW^2", "(4,)", "(4, 3)", "1 delta", "384 B", "75%"):
        assert piece in text


def test_from_array_shape_mismatch():
    with pytest.raises(tc.ShapeMismatchError, match=r"needs shape \(4, 4, 3\)"):
        tc.Derivative.from_array(np.zeros((4, 3)), (4,), (4, 3))


def test_complex_and_non_finite_refused():
    with pytest.raises(tc.InvalidInputError, match="complex"):
        tc.Derivative.from_array(np.ones(3, dtype=complex), (3,), ())
    with pytest.raises(tc.InvalidInputError, match="non-finite"):
        tc.Derivative.from_array(np.array([1.0, np.nan]), (2,), ())
    with pytest.raises(tc.InvalidInputError, match="non-finite"):
        tc.sigmoid.derivative(np.array([np.inf]))
    with pytest.raises(tc.InvalidInputError, match="complex"):
        tc.sigmoid(np.array([1j]))


def test_integer_input_is_cast_and_float32_kept():
    D = tc.Derivative.from_array(np.arange(3), (3,), ())
    assert D.dtype == np.float64
    assert tc.sigmoid.derivative(np.zeros(2, dtype=np.float32)).dense().dtype == np.float32


def test_oversized_dense_is_refused_before_allocating():
    W = np.zeros((20000, 20000 // 1000))
    a = np.zeros(20000 // 1000)
    D = tc.linear.derivative(W, a, wrt="W")  # dense would be 20000 * 20000 * 20 * 8 bytes
    with pytest.raises(tc.MemoryLimitError, match="64,000,000,000 bytes") as info:
        D.dense()
    assert "vector-by-matrix" in str(info.value) and "Contract it first" in str(info.value)
    old = tc.set_dense_limit(100)
    try:
        with pytest.raises(tc.MemoryLimitError):
            tc.Derivative.identity((5,)).dense()
        assert tc.Derivative.identity((5,)).dense(max_bytes=1000).shape == (5, 5)
    finally:
        tc.set_dense_limit(old)
    with pytest.raises(tc.TensorcalcError):
        tc.set_dense_limit(0)


def test_unknown_layout_lists_valid_names():
    D = tc.Derivative.identity((2,))
    with pytest.raises(tc.UnknownNameError, match="'numerator'"):
        D.to_layout("transposed")


def test_inputs_are_not_modified_and_derivative_is_immutable():
    arr = np.arange(6.0).reshape(2, 3)
    keep = arr.copy()
    D = tc.Derivative.from_array(arr, (2,), (3,))
    arr[0, 0] = 99.0
    assert D.dense()[0, 0] == keep[0, 0]
    assert arr.flags.writeable
    with pytest.raises(ValueError):
        D.factors[0].array[0, 0] = 1.0
    with pytest.raises(AttributeError):
        D.of = "other"
