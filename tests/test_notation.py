"""Rendered formulas against hand-written strings; notebook reprs; headless plots."""

import numpy as np
import pytest

import tensorcalc as tc

W, A, B = np.ones((4, 3)), np.ones(3), np.ones(4)
X1, K1, X2, K2 = np.ones((2, 7)), np.ones((3, 2, 3)), np.ones((2, 5, 6)), np.ones((3, 2, 2, 3))
Z = np.array([0.5, -1.0, 2.0])

INDEX = [
    (lambda: tc.linear.derivative(W, A, B, wrt="a"), "dz_i/da_j = W_ij"),
    (lambda: tc.linear.derivative(W, A, B, wrt="W"), "dz_i/dW_kj = a_j delta_ik"),
    (lambda: tc.linear.derivative(W, A, B, wrt="b"), "dz_i/db_j = delta_ij"),
    (lambda: tc.linear.derivative(W, np.ones((2, 3)), B, wrt="W"),
     "dz_ni/dW_kj = a_nj delta_ik"),
    (lambda: tc.sigmoid.derivative(Z), "da_i/dz_j = sigma'(z)_i delta_ij"),
    (lambda: tc.tanh.derivative(Z), "da_i/dz_j = tanh'(z)_i delta_ij"),
    (lambda: tc.relu.derivative(Z), "da_i/dz_j = relu'(z)_i delta_ij"),
    (lambda: tc.leaky_relu.derivative(Z), "da_i/dz_j = lrelu'(z)_i delta_ij"),
    (lambda: tc.softplus.derivative(Z), "da_i/dz_j = softplus'(z)_i delta_ij"),
    (lambda: tc.identity.derivative(Z), "da_i/dz_j = id'(z)_i delta_ij"),
    (lambda: tc.layers.gelu.derivative(Z), "da_i/dz_j = gelu'(z)_i delta_ij"),
    (lambda: tc.layers.gelu_tanh.derivative(Z), "da_i/dz_j = gelu_tanh'(z)_i delta_ij"),
    (lambda: tc.layers.silu.derivative(Z), "da_i/dz_j = silu'(z)_i delta_ij"),
    (lambda: tc.layers.elu.derivative(Z), "da_i/dz_j = elu'(z)_i delta_ij"),
    (lambda: tc.softmax.derivative(Z), "dp_i/dz_j = p_i delta_ij - p_i p_j"),
    (lambda: tc.log_softmax.derivative(Z), "dlogp_i/dz_j = delta_ij - p_j"),
    (lambda: tc.squared_error.derivative(Z, Z), "dC/da_i = [2(a - y)]_i"),
    (lambda: tc.cross_entropy.derivative(np.array([0.2, 0.8]), 1), "dC/dp_i = [-y/p]_i"),
    (lambda: tc.nll.derivative(Z, 1), "dC/dz_i = [(softmax(z) - y)]_i"),
    (lambda: tc.binary_cross_entropy.derivative(np.array([0.2, 0.8]), np.array([0.0, 1.0])),
     "dC/dp_i = [(p - y)/(p(1 - p))]_i"),
    (lambda: tc.hinge.derivative(Z, 1), "dC/ds_i = hinge'(s)_i"),
    (lambda: tc.linear_in_out.derivative(W.T, A, B, wrt="a"), "dz_i/da_j = W_ji"),
    (lambda: tc.linear_in_out.derivative(W.T, A, B, wrt="W"), "dz_i/dW_jk = a_j delta_ik"),
    (lambda: tc.linear_in_out.derivative(W.T, A, B, wrt="b"), "dz_i/db_j = delta_ij"),
    (lambda: tc.dropout.derivative(Z), "dr_i/dx_j = m(x)_i delta_ij"),
    (lambda: tc.layer_norm.derivative(Z, Z, Z, wrt="gamma"), "dy_i/dgamma_j = xhat(x)_i delta_ij"),
    (lambda: tc.layer_norm.derivative(Z, Z, Z, wrt="beta"), "dy_i/dbeta_j = delta_ij"),
    (lambda: tc.layer_norm.derivative(Z, Z, Z, wrt="x"),
     "dy_i/dx_k = gamma_i 1/sigma(x) delta_ik - 1/D gamma_i 1/sigma(x) "
     "- 1/D gamma_i 1/sigma(x) xhat(x)_i xhat(x)_k"),
    (lambda: tc.batch_norm.derivative(np.ones((2, 3)) * [[1], [2]], Z, Z, wrt="x"),
     "dy_ni/dx_mj = [gamma/sigma(x)]_i delta_nm delta_ij - 1/N [gamma/sigma(x)]_i delta_ij "
     "- 1/N [gamma/sigma(x)]_i xhat(x)_ni xhat(x)_mi delta_ij"),
    (lambda: tc.batch_norm.derivative(np.ones((2, 3)) * [[1], [2]], Z, Z, wrt="gamma"),
     "dy_ni/dgamma_j = xhat(x)_ni delta_ij"),
    (lambda: tc.conv1d.derivative(X1, K1, None, wrt="x", stride=2, padding=1, dilation=2),
     "dY_co/dx_ei = sum_k K_cek [i = 2o + 2k - 1]"),
    (lambda: tc.conv1d.derivative(X1, K1, None, wrt="K", stride=2, padding=1, dilation=2),
     "dY_co/dK_jek = sum_i x_ei [i = 2o + 2k - 1] delta_cj"),
    (lambda: tc.conv1d.derivative(X1, K1, B[:3], wrt="b"), "dY_co/db_i = delta_ci"),
    (lambda: tc.conv2d.derivative(X2, K2, None, wrt="x", stride=(2, 1), padding=(1, 0),
                                  dilation=(1, 2)),
     "dY_cop/dx_eij = sum_kl K_cekl [i = 2o + k - 1] [j = p + 2l]"),
    (lambda: tc.conv2d.derivative(X2, K2, None, wrt="K", stride=(2, 1), padding=(1, 0),
                                  dilation=(1, 2)),
     "dY_cop/dK_mekl = sum_ij x_eij [i = 2o + k - 1] [j = p + 2l] delta_cm"),
    (lambda: tc.max_pool1d.derivative(X1, 2, 1),
     "dy_co/dx_ji = sum_k argmax(x)_cok [i = o + k] delta_cj"),
    (lambda: tc.max_pool2d.derivative(X2, 2, 1),
     "dy_cop/dx_mij = sum_kl argmax(x)_cokpl [i = o + k] [j = p + l] delta_cm"),
    (lambda: tc.avg_pool1d.derivative(X1, 2, 1), "dy_co/dx_ji = sum_k 1/2 [i = o + k] delta_cj"),
    (lambda: tc.avg_pool2d.derivative(X2, 2, 1),
     "dy_cop/dx_mij = sum_kl 1/4 [i = o + k] [j = p + l] delta_cm"),
]


@pytest.mark.parametrize("make,expected", INDEX, ids=[e for _, e in INDEX])
def test_index_notation_of_each_primitive(make, expected):
    assert make().index_notation() == expected


def test_every_registered_derivative_is_covered():
    covered = {expected.split(" = ", 1)[1] for _, expected in INDEX}
    for prim in tc.REGISTRY.values():
        args = prim.example(np.random.default_rng(0), None)
        for wrt in prim.derivatives:
            rendered = prim.derivative(*args, wrt=wrt).index_notation().split(" = ", 1)[1]
            assert rendered in covered, (prim.name, wrt, rendered)


def test_latex_of_primitives():
    assert tc.linear.derivative(W, A, wrt="W").latex() == (
        r"\frac{\partial z_{i}}{\partial W_{kj}} = a_{j} \delta_{ik}")
    assert tc.sigmoid.derivative(Z, names={"z": "z^1", "out": "a^1"}).latex() == (
        r"\frac{\partial a^{1}_{i}}{\partial z^{1}_{j}} = \left[\sigma'(z^{1})\right]_{i} "
        r"\delta_{ij}")


def _two_layer_steps(batch=None):
    net = tc.Network.random([3, 4, 2], seed=0)
    x = np.ones((batch, 3)) if batch else np.ones(3)
    y = np.zeros((batch, 2)) if batch else np.zeros(2)
    return {s.target: s for s in tc.backprop(net, x, y).trace}


def test_two_layer_chain_in_three_notations():
    steps = _two_layer_steps()
    d1 = steps["delta^1"].result
    assert d1.spec == "i,ij,j->j"
    assert d1.index_notation() == "dC/dz^1_j = sum_i delta^2_i W^2_ij sigma'(z^1)_j"
    assert d1.matrix_notation() == "(W^2T delta^2) (.) sigma'(z^1)"
    assert d1.latex() == (r"\frac{\partial C}{\partial z^{1}_{j}} = \sum_{i} \delta^{2}_{i} "
                          r"W^{2}_{ij} \left[\sigma'(z^{1})\right]_{j}")
    w1 = steps["dC/dW^1"].result
    assert w1.index_notation() == "dC/dW^1_jk = delta^1_j a^0_k"
    assert w1.matrix_notation() == "delta^1 a^0T"
    assert steps["delta^2"].result.matrix_notation() == "(2(a^2 - y)) (.) sigma'(z^2)"


def test_batched_chain_matrix_notation():
    steps = _two_layer_steps(batch=3)
    assert steps["dC/dW^1"].result.matrix_notation() == "delta^1T a^0"
    assert steps["dC/db^1"].result.matrix_notation() == "sum_n delta^1"
    assert steps["delta^1"].result.matrix_notation() == "(delta^2 W^2) (.) sigma'(z^1)"


def test_softmax_jacobian_is_not_a_matrix_formula_but_chain_is():
    J = tc.softmax.derivative(Z)
    g = tc.Derivative.from_array(np.ones(3), (), (3,), of="C", wrt="p")
    assert J.matrix_notation() == "diag(p) - p p^T"
    assert tc.chain(g, J).matrix_notation() == "dC/dp (.) p - (dC/dp^T p) p"


def test_explain_prints_all_three_notations():
    net = tc.Network.random([3, 4, 2], seed=0)
    text = str(tc.explain(net, np.ones(3), np.zeros(2), "W1"))
    assert "einsum:   i,ij,j->j" in text
    assert "index:    dC/dz^1_j = sum_i delta^2_i W^2_ij sigma'(z^1)_j" in text
    assert "matrix:   (W^2T delta^2) (.) sigma'(z^1)" in text


def test_notebook_reprs():
    D = tc.linear.derivative(W, A, wrt="W")
    assert D._repr_latex_() == "$" + D.latex() + "$"
    html = D._repr_html_()
    assert "vector-by-matrix" in html and html.count("<table") == 5  # 4 slices in a row
    big = tc.linear.derivative(np.ones((40, 30)), np.ones(30), wrt="W")
    assert "not shown" in big._repr_html_()
    net = tc.Network.random([3, 4, 2], seed=0)
    report = tc.compare(net, np.ones(3), np.zeros(2))
    assert "<table>" in report._repr_html_() and "all methods agree" in report._repr_html_()
    ex = tc.explain(net, np.ones(3), np.zeros(2), "W1")
    assert ex._repr_latex_().startswith(r"$$\begin{aligned}")
    assert "\t" not in ex._repr_latex_() and r"\text{1: }" in ex._repr_latex_()
    assert ex._repr_html_().count("<li>") == 3

    class Printer:
        def __init__(self):
            self.out = ""

        def text(self, s):
            self.out += s

    for obj, expected in ((D, repr(D)), (report, str(report)), (ex, str(ex))):
        p = Printer()
        obj._repr_pretty_(p, False)
        assert p.out == expected


def test_plot_jacobian_3_tensor_and_batch(tmp_path):
    pytest.importorskip("matplotlib")
    D = tc.linear.derivative(np.arange(12.0).reshape(4, 3), np.array([1.0, -2.0, 3.0]), wrt="W")
    fig = tc.plot(D)
    slices = [ax for ax in fig.axes if ax.get_title().startswith("z index i = ")]
    assert len(slices) == 4
    assert slices[0].get_xlabel() == "W index k" and slices[0].get_ylabel() == "W index j"
    assert "grey = structural zero" in fig._suptitle.get_text()
    shown = slices[1].images[0].get_array()
    assert shown.mask.sum() == 9 and not shown.mask[1].any()  # only row k=1 is computed
    path = tmp_path / "d.png"
    fig.savefig(path, dpi=50)
    assert path.stat().st_size > 1000

    J = tc.softmax.derivative(Z)
    ax = tc.plot(J).axes[0]
    assert ax.get_ylabel() == "p index i" and ax.get_xlabel() == "z index j"
    assert ax.images[0].get_array().shape == (3, 3)

    batched = tc.linear.derivative(W, np.ones((2, 3)), wrt="a")
    ax = tc.plot(batched).axes[0]
    image = ax.images[0].get_array()
    assert image.shape == (8, 6) and image.mask.sum() == 24  # off-diagonal batch blocks
    assert len(ax.lines) == 2  # one horizontal and one vertical batch boundary
    width, height = tc.plot(batched).get_size_inches()
    assert width > 3 and height > 3


def test_explain_plot_command(tmp_path):
    pytest.importorskip("matplotlib")
    from tensorcalc.cli import main

    path = tmp_path / "chain.png"
    assert main(["explain", "--param", "W1", "--plot", str(path)]) == 0
    assert path.stat().st_size > 10_000
