"""Every registered second derivative: activations, softmax, log-softmax, the losses (with
scale and reduction) and the two fused pairs, against central differences of the first
derivative, for symmetry, under the chain rule, and against torch double-backward."""

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc.layers import LOSSES, REGISTRY
from tensorcalc.layers.softmax import softmax_value

BATCHES = (None, 3)
PRIMS = [name for name, p in REGISTRY.items() if p.seconds and name not in LOSSES]
PRIM_CASES = [(name, batch) for name in PRIMS for batch in BATCHES]
LOSS_CASES = [(name, scale, reduction, batch) for name in LOSSES for scale in (1.0, 0.5)
              for reduction in ("mean", "sum") for batch in BATCHES]
FUSED_CASES = [(name, scale, reduction, batch) for name in ("cross_entropy",
                                                            "binary_cross_entropy")
               for scale in (1.0, 0.5) for reduction in ("mean", "sum") for batch in BATCHES]


def _prim(name, batch, seed=5):
    prim = REGISTRY[name]
    (z,) = prim.example(np.random.default_rng(seed), batch)
    return prim, z


def _loss(name, scale, reduction, batch, seed=5):
    loss = tc.Loss(name, scale=scale, reduction=reduction)
    a, y = loss.primitive.example(np.random.default_rng(seed), batch)
    return loss, a, y


def _swapped(H, m):
    """H with its two input copies (``m`` axes each) exchanged."""
    o = H.ndim - 2 * m
    return np.transpose(H, list(range(o)) + list(range(o + m, o + 2 * m))
                        + list(range(o, o + m)))


def _assert_second(H, first, x):
    """``H`` is the derivative of ``first`` (the dense first derivative) at ``x``."""
    assert H.in_shape == x.shape + x.shape
    report = tc.check_derivative(H, first, x)
    assert report.ok, str(report)
    dense = H.dense()
    np.testing.assert_allclose(dense, _swapped(dense, x.ndim), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- activations, softmax
def test_every_activation_softmax_and_log_softmax_state_a_second_derivative():
    assert set(tc.ACTIVATIONS) | {"softmax", "log_softmax"} <= set(PRIMS)
    for name in PRIMS:
        prim = REGISTRY[name]
        assert set(prim.second_formulas) == set(prim.formulas)
        assert prim.second_formula.startswith("d2")
    assert "(1 - 2 sigma(x))" in tc.sigmoid.second_formula


@pytest.mark.parametrize("name,batch", PRIM_CASES)
def test_second_derivative_is_the_derivative_of_the_first(name, batch):
    prim, z = _prim(name, batch)
    H = prim.second_derivative(z)
    assert H.out_shape == np.shape(prim(z)) and (H.of, H.wrt) == (prim.out, "z")
    _assert_second(H, lambda v: prim.derivative(v).dense(), z)


@pytest.mark.parametrize("name,batch", PRIM_CASES)
def test_chain_with_a_gradient_is_the_dense_contraction(name, batch):
    prim, z = _prim(name, batch)
    H = prim.second_derivative(z)
    g = np.random.default_rng(1).normal(size=H.out_shape)
    grad = tc.Derivative.from_array(g, (), H.out_shape, of="C", wrt=H.of)
    via_chain = tc.chain(grad, H).dense()
    np.testing.assert_allclose(via_chain, np.tensordot(g, H.dense(), axes=g.ndim),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(via_chain, _swapped(via_chain, z.ndim), rtol=1e-12, atol=1e-14)
    if isinstance(prim, tc.Elementwise):  # the diagonal matrix g * f''
        diag = np.einsum("ii->i" if z.ndim == 1 else "nini->ni", via_chain)
        np.testing.assert_allclose(prim.second_hadamard(g, z), diag, rtol=1e-14, atol=1e-15)
        assert np.count_nonzero(via_chain) <= z.size


def test_leaky_relu_with_a_slope_and_relu_have_zero_second_derivatives():
    z = np.array([-2.0, -0.3, 0.0, 1.5])
    for prim in (tc.Activation("leaky_relu", slope=0.2).primitive, tc.relu, tc.leaky_relu,
                 tc.identity):
        np.testing.assert_array_equal(prim.second_derivative(z).dense(), 0.0)
        np.testing.assert_array_equal(prim.second_hadamard(np.ones(4), z), 0.0)


def test_second_derivative_keeps_float32_and_refuses_what_it_does_not_state():
    z = np.linspace(-1, 1, 4, dtype=np.float32)
    assert tc.tanh.second_derivative(z).dense().dtype == np.float32
    assert tc.softmax.second_derivative(z).dense().dtype == np.float32
    with pytest.raises(tc.TensorcalcError, match="second derivative"):
        tc.linear.second_derivative(np.eye(2), np.ones(2), np.zeros(2), wrt="a")
    with pytest.raises(tc.ShapeMismatchError, match="one shape"):
        tc.tanh.second_hadamard(np.ones(3), z)


def test_softmax_second_derivative_terms_and_names():
    H = tc.softmax.second_derivative(np.zeros(3), names={"z": "z^2", "out": "a^2"})
    assert len(H.terms) == 5 and (H.of, H.wrt) == ("a^2", "z^2")
    assert len(tc.log_softmax.second_derivative(np.zeros((2, 3))).terms) == 2
    # at uniform p = 1/3: d2p_0/dz_0^2 = p(1-p)(1-2p) = 2/27
    assert H.dense()[0, 0, 0] == pytest.approx(2 / 27, abs=1e-15)


# ---------------------------------------------------------------- losses
def test_every_loss_states_a_second_derivative():
    for prim in LOSSES.values():
        assert set(prim.seconds) == set(prim.derivatives) and prim.second_formula


@pytest.mark.parametrize("name,scale,reduction,batch", LOSS_CASES)
def test_loss_second_derivative_is_the_derivative_of_the_gradient(name, scale, reduction,
                                                                  batch):
    loss, a, y = _loss(name, scale, reduction, batch)
    H = loss.second_derivative(a, y)
    assert H.out_shape == () and (H.of, H.wrt) == ("C", loss.args[0])
    _assert_second(H, lambda v: loss.derivative(v, y).dense(), a)


@pytest.mark.parametrize("name,scale,reduction,batch", LOSS_CASES)
def test_loss_scale_and_mean_are_the_coefficients(name, scale, reduction, batch):
    loss, a, y = _loss(name, scale, reduction, batch)
    plain = tc.Loss(name, reduction="sum").second_derivative(a, y).dense()
    k = scale / (a.shape[0] if batch and reduction == "mean" else 1)
    H = loss.second_derivative(a, y)
    np.testing.assert_allclose(H.dense(), k * plain, rtol=1e-14, atol=1e-16)
    if batch:  # samples do not interact: the batch label is shared by both copies
        assert all(t.in_labels[0] == t.in_labels[2] for t in H.terms)
        off = H.dense()[0, :, 1, :]
        np.testing.assert_array_equal(off, 0.0)


@pytest.mark.parametrize("name,scale,reduction,batch", LOSS_CASES[::3])
def test_loss_chain_with_a_scalar_is_the_dense_contraction(name, scale, reduction, batch):
    loss, a, y = _loss(name, scale, reduction, batch)
    H = loss.second_derivative(a, y)
    c = tc.Derivative.from_array(np.array(2.0), (), (), of="L", wrt="C")
    np.testing.assert_allclose(tc.chain(c, H).dense(), 2.0 * H.dense(), rtol=1e-14)


def test_loss_second_derivatives_in_closed_form():
    p, y = np.array([0.2, 0.3, 0.5]), np.array([0.0, 1.0, 0.0])
    ce = tc.Loss("cross_entropy").second_derivative(p, y).dense()
    np.testing.assert_allclose(ce, np.diag([0.0, 1 / 0.09, 0.0]), rtol=1e-14)
    z = np.log(p)
    nll = tc.Loss("nll", scale=0.5).second_derivative(z, 1).dense()
    np.testing.assert_allclose(nll, 0.5 * (np.diag(p) - np.outer(p, p)), rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(tc.Loss("hinge").second_derivative(z, 2).dense(), 0.0)


# ---------------------------------------------------------------- fused pairs, in the logits
def _fused(name, scale, reduction, batch, seed=9):
    rng = np.random.default_rng(seed)
    loss = tc.Loss(name, scale=scale, reduction=reduction)
    z = rng.normal(size=(batch, 4) if batch else 4)
    if name == "cross_entropy":
        return loss, z, softmax_value(z), rng.integers(0, 4, size=batch) if batch else 2
    return loss, z, tc.sigmoid(z), rng.uniform(size=z.shape)


@pytest.mark.parametrize("name,scale,reduction,batch", FUSED_CASES)
def test_fused_second_is_the_derivative_of_the_fused_delta(name, scale, reduction, batch):
    loss, z, p, y = _fused(name, scale, reduction, batch)
    out = softmax_value if name == "cross_entropy" else tc.sigmoid
    H = loss.fused_second(p, y)
    assert (H.of, H.wrt) == ("C", "z") and len(H.terms) == (2 if name == "cross_entropy" else 1)
    _assert_second(H, lambda v: loss.fused_delta(out(v), y), z)


@pytest.mark.parametrize("name,scale,reduction,batch", FUSED_CASES)
def test_fused_second_is_the_second_order_chain_rule(name, scale, reduction, batch):
    """d2C/dz dz = J^T (d2C/dp dp) J + sum_i dC/dp_i d2p_i/dz dz, from the separate entries."""
    loss, z, p, y = _fused(name, scale, reduction, batch)
    act = tc.softmax if name == "cross_entropy" else tc.sigmoid
    J, Hp = act.derivative(z).dense(), loss.second_derivative(p, y).dense()
    g = loss.derivative(p, y)
    curvature = tc.chain(g, act.second_derivative(z)).dense()
    m = z.ndim
    gauss_newton = np.tensordot(np.tensordot(Hp, J, axes=m), J,
                                axes=(list(range(m)), list(range(m))))
    np.testing.assert_allclose(loss.fused_second(p, y).dense(), gauss_newton + curvature,
                               rtol=1e-10, atol=1e-12)


def test_fused_second_refuses_a_loss_without_a_pair():
    with pytest.raises(tc.TensorcalcError, match="no fused pair"):
        tc.Loss("squared_error").fused_second(np.ones(2), np.ones(2))
    assert "p_j delta_jk - p_j p_k" in tc.Loss("cross_entropy").fused_second_formula


# ---------------------------------------------------------------- torch double-backward
def _torch_activation(name, F, torch):
    return {"identity": lambda t: t * 1.0, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
            "softplus": F.softplus, "gelu": F.gelu,
            "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu,
            "elu": F.elu, "softmax": lambda t: torch.softmax(t, -1),
            "log_softmax": lambda t: torch.log_softmax(t, -1)}[name]


@pytest.mark.parametrize("name,batch", PRIM_CASES)
def test_second_derivative_matches_torch_double_backward(name, batch):
    torch = pytest.importorskip("torch")
    prim, z = _prim(name, batch)
    fn = _torch_activation(name, torch.nn.functional, torch)
    expected = torch.func.hessian(fn)(torch.tensor(z, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(prim.second_derivative(z).dense(), expected, rtol=1e-12,
                               atol=1e-14)


def _torch_loss(name, t, torch):
    def cost(a):
        if name == "squared_error":
            return ((a - t) ** 2).sum()
        if name == "cross_entropy":
            return -(t * torch.log(a)).sum()
        if name == "nll":
            return -(t * torch.log_softmax(a, -1)).sum()
        if name == "binary_cross_entropy":
            return -(t * torch.log(a) + (1 - t) * torch.log(1 - a)).sum()
        sc = (a * t).sum(-1, keepdim=True)
        return torch.clamp((a - sc + 1) * (1 - t), min=0).sum()
    return cost


@pytest.mark.parametrize("name,scale,reduction,batch", LOSS_CASES)
def test_loss_second_derivative_matches_torch_double_backward(name, scale, reduction, batch):
    torch = pytest.importorskip("torch")
    loss, a, y = _loss(name, scale, reduction, batch)
    t = torch.tensor(loss.targets(a, y), dtype=torch.float64)
    k = scale / (a.shape[0] if batch and reduction == "mean" else 1)
    cost = _torch_loss(name, t, torch)
    expected = torch.func.hessian(lambda v: k * cost(v))(torch.tensor(a)).numpy()
    np.testing.assert_allclose(loss.second_derivative(a, y).dense(), expected, rtol=1e-11,
                               atol=1e-13)


@pytest.mark.parametrize("name,scale,reduction,batch", FUSED_CASES)
def test_fused_second_matches_torch_double_backward(name, scale, reduction, batch):
    torch = pytest.importorskip("torch")
    loss, z, p, y = _fused(name, scale, reduction, batch)
    t = torch.tensor(loss.targets(p, y), dtype=torch.float64)
    k = scale / (z.shape[0] if batch and reduction == "mean" else 1)
    if name == "cross_entropy":
        def cost(v):
            return -k * (t * torch.log_softmax(v, -1)).sum()
    else:
        def cost(v):
            return k * torch.nn.functional.binary_cross_entropy_with_logits(
                v, t, reduction="sum")
    expected = torch.func.hessian(cost)(torch.tensor(z)).numpy()
    np.testing.assert_allclose(loss.fused_second(p, y).dense(), expected, rtol=1e-11,
                               atol=1e-13)
