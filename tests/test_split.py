"""A large result as one matrix product in its own layout (core/split.py), and sums of terms
with deltas added into diagonal views (core/evaluate.py), against plain np.einsum."""

import numpy as np
import pytest

from tensorcalc.core.contract import contract, contract_full
from tensorcalc.core.evaluate import _stacked, contract_terms
from tensorcalc.core.split import SPLIT_MIN, split_product
from tensorcalc.core.term import Factor, Term

SIZES = {"n": 5, "r": 8, "i": 40, "j": 41, "q": 40, "l": 42, "m": 8}


def _arrays(labels, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=tuple(SIZES[c] for c in lab)), lab) for lab in labels]


@pytest.mark.parametrize("labels, result", [
    (["nj", "ni", "nq", "nl"], "ijql"),  # a Gauss-Newton block: two halves over the batch
    (["nj", "ni", "nl"], "ijl"),  # the diagonal part, contracted to its distinct labels
    (["ij", "nj", "nm", "ni", "il", "nl", "nr"], "jmlr"),  # summed labels (i, n) on both sides
    (["nri", "nrj", "m", "nq", "nl"], "ijql"),  # two shared labels and a loose factor
])
def test_split_product_equals_einsum(labels, result):
    ops = _arrays(labels)
    assert np.prod([SIZES[c] for c in result]) >= SPLIT_MIN
    value = split_product(ops, result, SIZES, contract)
    assert value is not None
    assert value.flags.c_contiguous and value.shape == tuple(SIZES[c] for c in result)
    expected = np.einsum(",".join(lab for _, lab in ops) + "->" + result, *[a for a, _ in ops],
                         optimize=True)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


def test_split_product_declines_what_it_cannot_cut_is_small_or_an_outer_product():
    ops = _arrays(["ni", "njq", "nl"])  # every cut of jilq separates j from q
    assert split_product(ops, "jilq", SIZES, contract) is None
    assert split_product(_arrays(["ni", "nj"]), "ij", SIZES, contract) is None  # 1,640 entries
    assert split_product(_arrays(["ij", "ql"]), "ijql", SIZES, contract) is None  # an outer
    assert split_product(_arrays(["mi", "j", "ql"]), "ijql", {**SIZES, "m": 2}, contract) is None


def test_split_product_with_one_buffer_on_both_sides():
    a = np.random.default_rng(1).normal(size=(4, 300))
    value = split_product([(a, "ni"), (a, "nj")], "ij", {"n": 4, "i": 300, "j": 300}, contract)
    np.testing.assert_allclose(value, a.T @ a, rtol=1e-12, atol=1e-12)


def _term(ops, out, inp, coef=1.0):
    return Term(tuple(Factor(a, lab, f"F{k}") for k, (a, lab) in enumerate(ops)), out, inp, coef)


@pytest.mark.parametrize("order", [0, 1])
def test_sum_with_a_delta_term_first_or_last(order):
    """d = 0.5 delta_iq sum_n p_ni a_nj a_nl - sum_n a_nj p_ni p_nq a_nl (a Gauss-Newton block
    of softmax cross-entropy): the delta term is added into the diagonal view of the sum."""
    rng = np.random.default_rng(2)
    sizes = {"n": 6, "i": 20, "j": 30, "l": 30, "q": 20}
    a, p = rng.normal(size=(6, 30)), rng.random((6, 20))
    diag = _term([(a, "nj"), (p, "ni"), (a, "nl")], "ij", "il", 0.5)
    outer = _term([(a, "nj"), (p, "ni"), (p, "nq"), (a, "nl")], "ij", "ql", -1.0)
    terms = [diag, outer] if order == 0 else [outer, diag]
    value = contract_terms(terms, (0, 1, 2, 3), sizes, np.float64)
    expected = (0.5 * np.einsum("iq,nj,ni,nl->ijql", np.eye(20), a, p, a)
                - np.einsum("nj,ni,nq,nl->ijql", a, p, p, a))
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


def test_sum_of_delta_terms_only_and_factors_untouched():
    rng = np.random.default_rng(3)
    sizes = {"i": 300, "j": 300}
    d = rng.normal(size=300)
    keep = d.copy()
    t = _term([(d, "i")], "i", "i", 2.0)
    value = contract_terms([t, t], (0, 1), sizes, np.float64)
    np.testing.assert_allclose(value, np.diag(4 * d))
    big = rng.normal(size=(300, 300))
    kept = big.copy()
    value = contract_terms([_term([(big, "ij")], "i", "j"), t], (0, 1), sizes, np.float64)
    np.testing.assert_allclose(value, big + np.diag(2 * d))
    np.testing.assert_array_equal(d, keep)
    np.testing.assert_array_equal(big, kept)  # the first term's value is not summed in place


def test_contract_full_agrees_with_einsum_on_a_large_result():
    ops = _arrays(["nj", "ni", "nq", "nl"], seed=4)
    value = contract_full(ops, "ijql", SIZES, np.float64)
    expected = np.einsum("nj,ni,nq,nl->ijql", *[a for a, _ in ops])
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


def test_terms_of_one_cut_stacked_into_one_product():
    """Two Gauss-Newton-like terms with different summed labels and coefficients, and a loose
    factor (p_nw) that belongs with the right half, summed as one product."""
    rng = np.random.default_rng(5)
    sizes = {"n": 6, "w": 3, "y": 3, "j": 30, "m": 9, "l": 30, "r": 9}
    W, s, a = rng.normal(size=(3, 30)), rng.normal(size=(6, 30)), rng.normal(size=(6, 9))
    p = rng.random((6, 3))
    first = _term([(W, "yj"), (s, "nj"), (a, "nm"), (p, "ny"), (W, "yl"), (s, "nl"),
                   (a, "nr")], "jm", "lr", 0.25)
    second = _term([(W, "yj"), (s, "nj"), (a, "nm"), (p, "ny"), (p, "nw"), (W, "wl"),
                    (s, "nl"), (a, "nr")], "jm", "lr", -0.25)
    value = contract_terms([first, second], (0, 1, 2, 3), sizes, np.float64)
    _, rest = _stacked([(first, "jmlr"), (second, "jmlr")], sizes, np.float64)
    assert rest == []  # both went into the one product
    J = np.einsum("yj,nj,nm->nyjm", W, s, a)
    H = np.einsum("ny,yw->nyw", p, np.eye(3)) - np.einsum("ny,nw->nyw", p, p)
    expected = 0.25 * np.einsum("nyjm,nyw,nwlr->jmlr", J, H, J)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
