"""The chain rule: equals the dense tensor product, associative, cheap through deltas."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given

import tensorcalc as tc
from tensorcalc import strategies as tcs


def dense_chain(*ds):
    """Independent reference: tensordot of the materialised tensors, outermost first."""
    result = ds[-1].dense()
    for outer in reversed(ds[:-1]):
        result = np.tensordot(outer.dense(), result, axes=len(outer.in_shape))
    return result


@given(tcs.chains(length=2))
def test_chain_equals_dense_product(ds):
    C = tc.chain(*ds)
    assert C.out_shape == ds[0].out_shape and C.in_shape == ds[-1].in_shape
    np.testing.assert_allclose(C.dense(), dense_chain(*ds), rtol=1e-10, atol=1e-10)


@given(tcs.chains(length=3))
def test_chain_is_associative(ds):
    a, b, c = ds
    left, right = tc.chain(tc.chain(a, b), c), tc.chain(a, tc.chain(b, c))
    np.testing.assert_allclose(left.dense(), right.dense(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose((a @ b @ c).dense(), dense_chain(a, b, c), rtol=1e-10, atol=1e-10)


def test_layer_chain_is_the_shortcut_spec():
    rng = np.random.default_rng(0)
    W, a = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    z = tc.linear(W, a)
    g = tc.squared_error.derivative(tc.sigmoid(z), np.zeros((6, 4)))
    C = tc.chain(g, tc.sigmoid.derivative(z), tc.linear.derivative(W, a, wrt="W"))
    assert C.kind == "scalar-by-matrix"
    assert C.spec == "ni,ni,nj->ij"
    shortcut = tc.sigmoid.hadamard(g.compact, z).T @ a
    np.testing.assert_allclose(C.dense(), shortcut, rtol=1e-12)


def test_sum_of_ones_and_constant_axes():
    ones_row = tc.Derivative((), "", "i", {"i": 5}, of="s", wrt="z")  # d sum(z)/dz
    broadcast = tc.Derivative((), "k", "", {"k": 5}, of="z", wrt="t")  # z = t * ones
    assert ones_row.dense().tolist() == [1.0] * 5
    total = tc.chain(ones_row, broadcast)
    assert total.kind == "scalar-by-scalar"
    assert float(total.dense()) == 5.0


def test_gradient_times_vector_by_matrix_never_builds_the_3_tensor():
    n = 2000
    rng = np.random.default_rng(0)
    W, a = rng.normal(size=(n, n)), rng.normal(size=n)
    g = tc.Derivative.from_array(rng.normal(size=n), (), (n,), of="C", wrt="z")
    dz_dW = tc.linear.derivative(W, a, wrt="W")
    assert dz_dW.nbytes_dense == 8 * n**3  # 64 GB, far above any machine here
    tracemalloc.start()
    result = tc.chain(g, dz_dW).dense()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * n * n * 8  # a few n x n arrays at most
    np.testing.assert_allclose(result, np.outer(g.dense(), a), rtol=1e-12)


def test_shape_mismatch_names_both_sides_and_the_fix():
    W = np.ones((4, 3))
    outer = tc.Derivative.from_array(np.ones(2), (), (2,), of="C", wrt="a")
    inner = tc.linear.derivative(W, np.ones(3), wrt="a")
    with pytest.raises(tc.ShapeMismatchError) as info:
        tc.chain(outer, inner)
    msg = str(info.value)
    for piece in ("dC/da (gradient", "dz/da (jacobian", "(2,)", "(4,)", "would fit"):
        assert piece in msg
    with pytest.raises(tc.ShapeMismatchError, match="reverse order fits"):
        tc.chain(tc.linear.derivative(W, np.ones(3), wrt="a"),
                 tc.Derivative.from_array(np.ones((2, 4)), (2,), (4,)))
    with pytest.raises(tc.TensorcalcError, match="Derivative objects"):
        tc.chain(outer, np.ones(2))
    with pytest.raises(tc.TensorcalcError, match="at least one"):
        tc.chain()


def test_expressions_are_cached():
    from tensorcalc.core import contract

    D = tc.sigmoid.derivative(np.zeros((30, 200)))  # above contract.SMALL: goes to opt_einsum
    g = tc.Derivative.from_array(np.ones((30, 200)), (), (30, 200))
    tc.chain(g, D).dense()
    before = contract.cache_info().hits
    tc.chain(g, D).dense()
    assert contract.cache_info().hits > before


def test_gradient_through_dense_jacobians_is_contracted_vector_first():
    from tensorcalc.core.contract import path_info

    n = 300
    rng = np.random.default_rng(0)
    g = tc.Derivative.from_array(rng.normal(size=n), (), (n,), of="C", wrt="y3")
    J = [tc.Derivative.from_array(rng.normal(size=(n, n)), (n,), (n,), of=f"y{k}",
                                  wrt=f"y{k - 1}") for k in (3, 2, 1)]
    C = tc.chain(g, *J)
    info = path_info(C.spec, tuple(f.array.shape for f in C.factors))
    assert info.largest_intermediate <= n  # never the n x n product of two Jacobians
    assert info.opt_cost <= 8 * n * n  # three vector-matrix products, not 2 n^3
    reference = g.dense() @ J[0].dense() @ J[1].dense() @ J[2].dense()
    np.testing.assert_allclose(C.dense(), reference, rtol=1e-10)


@pytest.mark.parametrize("spec", ["ni,ij->nj", "ni,nj->ij", "ni,ni->i", "i,j->ij", "ij,jk->ki",
                                  "nij,nj->ni", "abc,cd->db", "ni,nk->", "ij,k->ik",
                                  "ij,ij->", "ni,j->nij", "ni,ij,nj->nj", "i,i,j->j",
                                  "ab,bc,cd->ad", "nm,,m,n->n", "np,,p,n,np,nj->nj",
                                  "ij,jk,ki->"])
@pytest.mark.parametrize("side", [3, 40])
def test_compiled_contractions_equal_plain_einsum(spec, side):
    """What a compiled chain replays (one einsum, one matrix product, or a pairwise path)."""
    from tensorcalc.core.contract import compiled

    rng = np.random.default_rng(0)
    labels = spec.split("->")[0].split(",")
    sizes = {c: side + k for k, c in enumerate(sorted(set("".join(labels))))}
    arrays = [rng.normal(size=[sizes[c] for c in lab]) for lab in labels]
    got = compiled(spec, tuple(a.shape for a in arrays))(*arrays)
    np.testing.assert_allclose(got, np.einsum(spec, *arrays), rtol=1e-10, atol=1e-10)
