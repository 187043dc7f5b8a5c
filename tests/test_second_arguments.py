"""Bad arguments to the second-order entry points: a direction that is not a dict of
parameter-shaped arrays, a list where one block is a tuple pair; each a TensorcalcError that
names what was expected."""

import numpy as np
import pytest

import tensorcalc as tc


def test_hvp_and_ggn_vp_with_a_flat_vector_list_the_parameters_and_shapes():
    net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    x, y = np.ones(3), np.zeros(2)
    for product, name in ((tc.hvp, "hvp"), (tc.ggn_vp, "ggn_vp")):
        with pytest.raises(tc.TensorcalcError) as err:
            product(net, x, y, np.ones(22))
        text = str(err.value)
        assert text.startswith(f"{name}'s v must be a dict from parameter name")
        assert "{'W1': (4, 3), 'b1': (4,), 'W2': (2, 4), 'b2': (2,)}" in text
        assert "ndarray of shape (22,)" in text
    with pytest.raises(tc.TensorcalcError, match="ggn_vp's v must be a dict"):
        tc.hvp(net, x, y, [1.0], gauss_newton=True)


def test_hessian_wrt_given_as_a_list_says_to_pass_a_tuple():
    net = tc.Network.random([3, 4, 2], hidden="tanh", seed=0)
    x, y = np.ones(3), np.zeros(2)
    for wrt in (["W1", "W2"], [("W1", "W1"), ("W2", "W2")]):
        for entry in (tc.hessian, tc.gauss_newton):
            with pytest.raises(tc.TensorcalcError) as err:
                entry(net, x, y, wrt=wrt)
            text = str(err.value)
            assert text.startswith(f"wrt is a list, {wrt!r}") and "pass a tuple" in text
            assert "wrt=('W1', 'W2')" in text
    block = tc.hessian(net, x, y, wrt=("W1", "W2")).dense()
    numeric = tc.hessian(net, x, y, wrt=("W1", "W2"), method="numeric").dense()
    np.testing.assert_allclose(block, numeric, atol=1e-6)
