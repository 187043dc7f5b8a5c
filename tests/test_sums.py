"""The sum-of-terms core: a sum's value is the sum of its parts, the chain rule distributes over
sums and stays associative, structure is reported for the union of the terms' patterns."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorcalc as tc
from tensorcalc import strategies as tcs


def dense_chain(*ds):
    result = ds[-1].dense()
    for outer in reversed(ds[:-1]):
        result = np.tensordot(outer.dense(), result, axes=len(outer.in_shape))
    return result


@given(tcs.sums())
def test_a_sum_is_the_sum_of_its_parts(case):
    total, parts, coefs = case
    expected = sum(c * d.dense() for c, d in zip(coefs, parts))
    np.testing.assert_allclose(total.dense(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(total.contracted().dense(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose((-total).dense(), -expected, rtol=1e-12, atol=1e-12)
    assert total.shape == parts[0].shape and total.kind == parts[0].kind


@given(tcs.sums(), st.sampled_from(["canonical", "numerator", "denominator"]))
def test_structure_and_layouts_of_sums(case, layout):
    total, _, _ = case
    dense = total.dense()
    if dense.size:
        assert np.mean(dense == 0) >= total.structural_zero_fraction - 1e-12
    back = tc.Derivative.from_layout(total.to_layout(layout), layout, total.out_shape,
                                     total.in_shape)
    np.testing.assert_array_equal(back.dense(), dense)


@st.composite
def sum_chains(draw):
    shapes = [draw(tcs.shapes(max_rank=2, max_side=3)) for _ in range(4)]
    return [draw(tcs.sums(shapes[k], shapes[k + 1]))[0] for k in range(3)]


@given(sum_chains())
def test_chains_of_sums_are_associative_and_equal_the_dense_product(ds):
    a, b, c = ds
    reference = dense_chain(a, b, c)
    np.testing.assert_allclose(tc.chain(tc.chain(a, b), c).dense(), reference, rtol=1e-9,
                               atol=1e-9)
    np.testing.assert_allclose(tc.chain(a, tc.chain(b, c)).dense(), reference, rtol=1e-9,
                               atol=1e-9)
    assert len(tc.chain(a, b, c).terms) == len(a.terms) * len(b.terms) * len(c.terms)


@given(sum_chains(), st.sampled_from([-1.0, 0.5, 3.0]))
def test_the_chain_rule_distributes_over_sums(ds, c):
    a, b, d = ds
    b2 = tc.Derivative.from_array(np.ones(b.shape), b.out_shape, b.in_shape)
    left = tc.chain(a, b + c * b2).dense()
    right = (tc.chain(a, b) + c * tc.chain(a, b2)).dense()
    np.testing.assert_allclose(left, right, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(((a + a) @ b).dense(), 2 * (a @ b).dense(), rtol=1e-9,
                               atol=1e-9)


def test_sum_errors_and_display():
    J = tc.softmax.derivative(np.array([0.2, -1.0, 0.5]))
    with pytest.raises(tc.ShapeMismatchError, match="same output and input shapes"):
        J + tc.Derivative.identity((2,))
    with pytest.raises(TypeError):
        J * J
    assert "terms +[i|i: p[i]] -[i|j: p[i] p[j]]" in repr(J)
    assert J.latex() == r"\frac{\partial p_{i}}{\partial z_{j}} = p_{i} \delta_{ij} - p_{i} p_{j}"
    assert (J + 0) is J and sum([J, J]).dense() == pytest.approx(2 * J.dense())
