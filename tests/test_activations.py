"""The smooth activations (exact and tanh GELU, SiLU, ELU) and leaky ReLU with a slope."""

import math

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc.layers.activations import erf


def test_erf_matches_math_erf():
    z = np.linspace(-6, 6, 2001)
    np.testing.assert_allclose(erf(z), [math.erf(v) for v in z], rtol=1e-15, atol=1e-16)


def test_the_two_gelu_forms_are_different_functions_and_say_which():
    z = np.linspace(-3, 3, 13)
    exact, approx = tc.Activation("gelu"), tc.Activation("gelu", approximate="tanh")
    assert repr(exact) == "'gelu'" and repr(approx) == "'gelu_tanh'"
    a, b = exact.primitive(z), approx.primitive(z)
    assert 1e-5 < np.max(np.abs(a - b)) < 1e-2  # close, not equal
    Phi = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in z]))
    np.testing.assert_allclose(a, z * Phi, rtol=1e-14, atol=1e-15)


def test_leaky_relu_with_a_slope_and_bad_options():
    layer = tc.Activation("leaky_relu", slope=0.2)
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(layer.primitive(z), [-0.4, 0.0, 3.0])
    np.testing.assert_array_equal(layer.primitive.prime(z), [0.2, 0.2, 1.0])
    net = tc.Network.stack([tc.Dense(3), layer, tc.Dense(1)], input_shape=(2,), seed=0)
    assert tc.compare(net, np.array([0.3, -0.7]), np.array([1.0])).ok
    assert "leaky_relu 0.2" in layer.spec()
    with pytest.raises(tc.TensorcalcError, match="applies to 'gelu' only"):
        tc.Activation("relu", approximate="tanh")
    with pytest.raises(tc.TensorcalcError, match="applies to 'leaky_relu' only"):
        tc.Activation("tanh", slope=0.1)


@pytest.mark.parametrize("name,torch_name", [("gelu", "gelu"), ("gelu_tanh", "gelu_tanh"),
                                             ("silu", "silu"), ("elu", "elu")])
def test_smooth_activations_match_torch(name, torch_name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    fn = {"gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu,
          "elu": F.elu}[torch_name]
    z = np.linspace(-4, 4, 41)
    zt = torch.tensor(z, requires_grad=True)
    fn(zt).sum().backward()
    prim = tc.ACTIVATIONS[name]
    np.testing.assert_allclose(prim(z), fn(torch.tensor(z)).numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(prim.prime(z), zt.grad.numpy(), rtol=1e-12, atol=1e-14)
