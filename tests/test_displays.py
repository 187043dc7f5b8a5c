"""What a student sees in a terminal and a notebook: tables for gradients and networks, typeset
formulas in the HTML displays, the derivation as LaTeX, and named errors."""

import html
import importlib

import numpy as np
import pytest

import tensorcalc as tc


def _case():
    net = tc.Network.stack([tc.Dense(4), "tanh", tc.Residual([tc.Dense(4), "tanh"]),
                            tc.Dense(2), "softmax"], input_shape=(3,), loss="cross_entropy",
                           seed=1)
    return net, np.array([0.5, -0.2, 0.1]), 1


def test_gradients_show_as_a_table():
    net, x, y = _case()
    g = tc.backprop(net, x, y)
    lines = repr(g).splitlines()
    assert lines[0].startswith("Gradients by full: loss C = ")
    assert lines[1].split() == ["parameter", "kind", "shape", "norm"]
    row = lines[3].split()
    assert row[:2] == ["W1", "scalar-by-matrix"]
    assert float(row[-1]) == pytest.approx(np.linalg.norm(g["W1"].dense()), rel=1e-5)
    html = g._repr_html_()
    assert html.count("<tr>") == len(net.params) + 1


def test_a_missing_gradient_names_the_ones_there_are():
    net, x, y = _case()
    g = tc.backprop(net, x, y)
    with pytest.raises(tc.TensorcalcError, match="no gradient 'W9'; these gradients are W1, b1"):
        g["W9"]
    assert "W1" in g and "W9" not in g


def test_a_network_shows_as_a_model_summary():
    net, _, _ = _case()
    text = net.summary()
    assert "W2 (4, 4), b2 (4,)" in text  # the residual block's parameters on its row
    assert text.rstrip().endswith(f"{sum(v.size for v in net.params.values()):,} parameters")
    assert net._repr_html_().count("<tr>") == len(net.layers) + 1
    assert repr(net).startswith("Network.stack(")  # repr stays the constructor


def test_notebook_html_carries_typeset_latex():
    d = tc.softmax.derivative(np.array([0.2, 0.8]))
    html = d._repr_html_()
    assert "$$" in html and r"\frac{\partial p_{i}}{\partial z_{j}}" in html
    net, x, y = _case()
    explanation = tc.explain(net, x, y, "W1")
    assert explanation._repr_html_().count("$$") == 2 * len(explanation.steps)
    step = explanation.steps[0]
    assert "$$" in step._repr_html_() and str(step).startswith(step.target)


def test_explanation_latex_is_one_align_block():
    net, x, y = _case()
    explanation = tc.explain(net, x, y, "W1")
    latex = explanation.latex()
    assert latex.startswith("\\begin{align}") and latex.endswith("\\end{align}")
    assert latex.count("\\\\") == len(explanation.steps) - 1
    assert explanation._repr_latex_().startswith("$$\\begin{aligned}")


def test_check_report_html():
    z = np.array([0.5, -1.0])
    report = tc.check_derivative(tc.sigmoid.derivative(z), tc.sigmoid, z)
    assert report._repr_html_().startswith("<div>OK")


def test_explain_step_parts_use_the_einsum_letters():
    net = tc.Network.random([3, 4, 2], seed=0)
    text = str(tc.explain(net, np.ones(3), np.zeros(2), "W1"))
    step3 = text.split("step 3:")[1]
    assert "a^0[k]" in step3 and "einsum:   j,k->jk" in step3
    assert "sigma'(z^1)[j]" in text.split("step 2:")[1].split("step 3:")[0]


def test_the_handout_has_every_step_formula_and_image(tmp_path):
    pytest.importorskip("matplotlib")
    from tensorcalc.cli import main

    path = tmp_path / "derivation.html"
    assert main(["explain", "--layers", "dense 4, tanh, dense 2, softmax", "--loss",
                 "cross_entropy", "--html", str(path)]) == 0
    page = path.read_text()
    net = tc.Network.stack("dense 4, tanh, dense 2, softmax", input_shape=(3,),
                           loss="cross_entropy")
    explanation = tc.explain(net, np.ones(3), 0, "W1")
    assert page.count('class="step"') == len(explanation.steps)
    assert page.count("data:image/png;base64,") == len(explanation.steps)
    for step in explanation.steps:
        assert html.escape(step.result.spec) in page
    assert page.count("$$") == 2 * len(explanation.steps)  # typeset, source kept offline
    assert "<script async src='https://cdn.jsdelivr.net/npm/mathjax@3" in page


def test_a_drawing_failure_is_not_called_a_write_failure(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from tensorcalc.cli import main

    plot_module = importlib.import_module("tensorcalc.plot")

    def broken(*args, **kwargs):
        raise ValueError("no room for the colour bar")

    monkeypatch.setattr(plot_module, "plot_chain", broken)
    assert main(["explain", "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "could not draw the chain: no room" in err and "could not write" not in err
