"""Chain plots that read at any size: colour bars on every panel, one colour scale per step,
gradients in their parameter's shape, one index letter per axis in a figure, slices in a
grid, big layers drawn compact, every layer kind drawable, README figures reproducible."""

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorcalc as tc

pytest.importorskip("matplotlib")
ROOT = Path(__file__).resolve().parent.parent


def _panels(fig):
    """The heatmap axes of a figure (not the colour bars)."""
    return [ax for ax in fig.axes if ax.images]


def _colorbars(fig):
    return [ax for ax in fig.axes if not ax.images and ax.get_visible() and ax.collections]


def _letters_agree(fig):
    """Every index letter of the figure's axis labels names one tensor's axis."""
    owner = {}
    for ax in _panels(fig):
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            if " index " not in label or "," in label.split(" index ")[0]:
                continue
            symbol, letters = label.split(" index ")
            for letter in letters.strip("()").split(", "):
                owner.setdefault(letter, set()).add(symbol)
    clashes = {k: v for k, v in owner.items() if len(v) > 1}
    assert not clashes, clashes


def _chain(net, x, y, param="W1"):
    explanation = tc.explain(net, x, y, param)
    return explanation, tc.plot_chain(explanation)


def test_every_panel_has_a_colour_bar_and_a_step_shares_one_scale():
    net = tc.Network.random([3, 4, 2], seed=0)
    explanation, fig = _chain(net, np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0]))
    panels = _panels(fig)
    assert len(panels) == sum(len(s.parts) + 1 for s in explanation.steps)
    assert len([ax for ax in fig.axes if not ax.images and ax.get_visible()]) == len(panels)
    assert "shared colour scale" in fig._suptitle.get_text()
    start = 0
    for step in explanation.steps:
        row = panels[start:start + len(step.parts) + 1]
        limits = {ax.images[0].get_clim() for ax in row}
        assert len(limits) == 1, step.target
        start += len(row)


def test_a_gradient_is_drawn_in_its_parameters_shape_and_letters_agree():
    net = tc.Network.random([3, 4, 2], seed=0)
    _, fig = _chain(net, np.ones(3), np.zeros(2))
    result = [ax for ax in _panels(fig) if ax.get_title().startswith("dC/dW^1")][0]
    assert result.images[0].get_array().shape == (4, 3)
    dz_dw = [ax for ax in _panels(fig) if ax.get_title().startswith("dz^1/dW^1")][0]
    w_letters = dz_dw.get_xlabel().split("index ")[1].strip("()").split(", ")
    assert result.get_ylabel() == f"W^1 index {w_letters[0]}"
    assert result.get_xlabel() == f"W^1 index {w_letters[1]}"
    z_labels = {ax.get_xlabel() for ax in _panels(fig) if ax.get_xlabel().startswith("z^1")}
    z_labels |= {ax.get_ylabel() for ax in _panels(fig) if ax.get_ylabel().startswith("z^1")}
    assert len(z_labels) == 1  # z^1's axis has one letter in every panel


def test_a_batched_gradient_is_n_by_n():
    net = tc.Network.random([3, 4, 2], seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3))
    _, fig = _chain(net, x, np.zeros((5, 2)))
    delta = [ax for ax in _panels(fig) if ax.get_title().startswith("delta^1")][0]
    assert delta.images[0].get_array().shape == (5, 4)


def test_many_slices_wrap_in_a_grid_with_named_labels():
    d = tc.linear.derivative(np.ones((16, 20)), np.arange(20.0), wrt="W",
                             names={"W": "W^1", "a": "a^0", "out": "z^1"})
    fig = tc.plot(d)
    slices = _panels(fig)
    assert len(slices) == 16
    assert slices[3].get_title() == "z^1 index i = 3"
    assert slices[0].get_ylabel() == "W^1 index j" and slices[0].get_xlabel() == "W^1 index k"
    assert not any("index [" in ax.get_xlabel() + ax.get_ylabel() for ax in slices)
    width, height = fig.get_size_inches()
    assert width <= 17 and height > 2 * 2.6  # at most 6 to a row: three rows
    columns = {round(ax.get_position().x0, 3) for ax in slices}
    assert len(columns) <= 6


def test_a_big_network_draws_reduced_panels_with_a_note(tmp_path):
    net = tc.Network.random([784, 512, 10], seed=0)
    x = np.random.default_rng(1).normal(size=784)
    _, fig = _chain(net, x, np.zeros(10))
    titles = [ax.get_title() for ax in _panels(fig)]
    reduced = [ax for ax in _panels(fig) if ax.get_title().startswith("dz^1/dW^1")][0]
    assert "too many to draw; 1 delta" in reduced.get_title()
    assert "drawn as its factor a^0" in reduced.get_title().replace("\n", " ")
    assert reduced.images[0].get_array().shape == (1, 784)
    result = [ax for ax in _panels(fig) if ax.get_title().startswith("dC/dW^1")][0]
    assert result.images[0].get_array().shape == (512, 784)
    # the factor's axis is named in the figure's letter for W^1's column axis
    assert reduced.get_xlabel() == result.get_xlabel() == "W^1 index n"
    assert "max |entry|" in result.get_title()  # faint on the step's shared scale: says so
    _letters_agree(fig)
    assert len(titles) == len(_colorbars(fig))
    fig.savefig(tmp_path / "big.png", dpi=40)
    assert (tmp_path / "big.png").stat().st_size > 10_000


def test_a_diagonal_above_the_budget_is_drawn_as_its_diagonal():
    from tensorcalc.panels import DRAW_BUDGET

    width = int(DRAW_BUDGET ** 0.5) + 1
    net = tc.Network.random([2, width, 2], seed=0)
    _, fig = _chain(net, np.ones(2), np.zeros(2))
    (diag,) = [ax for ax in _panels(fig) if ax.get_title().startswith("da^1/dz^1")]
    title = diag.get_title().replace("\n", " ")
    assert "diagonal: drawn as its diagonal sigma'(z^1)" in title
    assert diag.images[0].get_array().shape == (1, width)
    (dz_da,) = [ax for ax in _panels(fig) if ax.get_title().startswith("dz^2/da^1")]
    assert diag.get_xlabel() == dz_da.get_xlabel() == "a^1 index k"  # the figure's letter
    _letters_agree(fig)


def test_plot_of_a_3_tensor_above_the_budget_draws_one_reduced_panel():
    d = tc.linear.derivative(np.ones((512, 784)), np.ones(784), wrt="W")
    fig = tc.plot(d)
    (ax,) = _panels(fig)
    assert ax.images[0].get_array().shape == (1, 784)
    assert "205,520,896 entries, too many to draw" in ax.get_title()
    assert ax.get_xlabel() == "W index k" and len(_colorbars(fig)) == 1


def test_the_cli_writes_the_big_picture(tmp_path):
    from tensorcalc.cli import main

    path = tmp_path / "big.png"
    assert main(["explain", "--sizes", "784", "512", "10", "--plot", str(path)]) == 0
    assert path.stat().st_size > 10_000


def test_every_layer_kind_is_drawable(tmp_path):
    lenet = tc.Network.stack([tc.Conv2d(6, 5), "relu", tc.MaxPool2d(2), tc.Conv2d(16, 5),
                              "relu", tc.MaxPool2d(2), tc.Flatten(), tc.Dense(32), "relu",
                              tc.Dense(10), "softmax"], input_shape=(1, 28, 28),
                             loss="cross_entropy", seed=0)
    x = np.random.default_rng(0).normal(size=(1, 28, 28))
    for param in ("K1", "W4"):
        _, fig = _chain(lenet, x, 3, param)
        _letters_agree(fig)
        assert len(_colorbars(fig)) == len(_panels(fig))
        fig.savefig(tmp_path / f"{param}.png", dpi=30)
    rng = np.random.default_rng(2)
    others = tc.Network.stack([tc.Embedding(9, 2), tc.Flatten(), tc.Dense(4), tc.BatchNorm(),
                               tc.Residual([tc.Dense(4), tc.LayerNorm(), "tanh"]),
                               tc.Dropout(0.5), tc.Dense(3), "softmax"], input_shape=(3,),
                              loss="cross_entropy")
    for param in ("C1", "gamma3", "W4"):  # embedding, batch norm, inside the residual block
        _, fig = _chain(others, rng.integers(9, size=(4, 3)), rng.integers(3, size=4), param)
        assert _panels(fig)
    maps = tc.Network.stack("conv 4 3, batchnorm2d, relu, groupnorm 2, avgpool 2, flatten, "
                            "dense 2", input_shape=(1, 6, 6))
    _, fig = _chain(maps, rng.normal(size=(2, 1, 6, 6)), rng.normal(size=(2, 2)), "K1")
    fig.savefig(tmp_path / "maps.png", dpi=30)


def test_only_a_failure_to_write_is_called_one(tmp_path, capsys, monkeypatch):
    from tensorcalc.cli import main

    plot_module = importlib.import_module("tensorcalc.plot")
    real = plot_module.plot_chain

    def unrenderable(*args, **kwargs):
        figure = real(*args, **kwargs)

        def savefig(*a, **k):
            raise ValueError("the renderer gave up")

        figure.savefig = savefig
        return figure

    monkeypatch.setattr(plot_module, "plot_chain", unrenderable)
    assert main(["explain", "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "could not draw the chain: the renderer gave up" in err and "could not write" not in err
    assert not (tmp_path / "x.png").exists()
    monkeypatch.setattr(plot_module, "plot_chain", real)
    assert main(["explain", "--plot", str(tmp_path / "x.xyz")]) == 2
    assert "could not write" in capsys.readouterr().err
    assert main(["explain", "--plot", str(tmp_path / "plain")]) == 0
    assert (tmp_path / "plain").read_bytes()[:4] == b"\x89PNG"  # the name given, as a PNG


def test_readme_figures_regenerate_to_the_same_bytes(tmp_path):
    script = ROOT / "examples" / "make_readme_figures.py"
    for name in ("a", "b"):
        subprocess.run([sys.executable, str(script), str(tmp_path / name)], check=True,
                       capture_output=True)
    from matplotlib.image import imread

    for png in ("dz_dW.png", "chain_W1.png"):
        first, second = [(tmp_path / n / png).read_bytes() for n in "ab"]
        assert first == second
        # the committed ones are current: the same picture (pixels, up to font rendering)
        new, committed = imread(tmp_path / "a" / png), imread(ROOT / "docs" / "img" / png)
        assert new.shape == committed.shape and np.abs(new - committed).mean() < 0.02


def test_a_whole_network_hessian_is_drawn_with_its_blocks(tmp_path):
    net = tc.Network.random([3, 4, 2], hidden="tanh", output="softmax", loss="cross_entropy",
                            seed=0)
    H = tc.hessian(net, np.ones((2, 3)), np.array([0, 1]))
    fig = tc.plot(H)
    (ax,) = _panels(fig)
    assert ax.images[0].get_array().shape == (26, 26)
    assert len(ax.lines) == 2 * 3  # boundaries between the four parameters, both ways
    assert [t.get_text() for t in ax.get_xticklabels()] == ["W1", "b1", "W2", "b2"]
    fig.savefig(tmp_path / "h.png", dpi=40)


def test_hessian_parts_are_drawn_one_part_per_row_then_their_sum():
    net = tc.Network.random([3, 4, 2], seed=0)
    x, y = np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0])
    parts = tc.explain(net, x, y, ("W1", "W1"))
    fig = tc.plot_chain(parts)
    panels = _panels(fig)
    assert [ax.get_title().split("\n")[0] for ax in panels] == [
        *parts, "the block: the sum of the 3 parts"]
    assert len(_colorbars(fig)) == len(panels)
    for ax, d in zip(panels, [*parts.values(), parts.total()]):
        np.testing.assert_allclose(np.ma.getdata(ax.images[0].get_array()),
                                   d.dense().reshape(12, 12), atol=1e-15)
    block = tc.hessian(net, x, y)["W1", "W1"].dense().reshape(12, 12)
    np.testing.assert_allclose(np.ma.getdata(panels[-1].images[0].get_array()), block,
                               rtol=1e-10, atol=1e-14)
    assert {ax.images[0].get_clim() for ax in panels} == {panels[0].images[0].get_clim()}
    _letters_agree(fig)


def test_plot_chain_of_gradients_says_what_it_draws():
    net = tc.Network.random([3, 4, 2], seed=0)
    g = tc.backprop(net, np.ones(3), np.zeros(2))
    with pytest.raises(tc.TensorcalcError, match=r"plot_chain draws the steps of an explanation"
                       r".*got str items \(draw one derivative with tc.plot\(d\)\)"):
        tc.plot_chain(g)
