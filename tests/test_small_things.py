"""Small things a user tripped on: indexing a derivative, a layout's array that keeps its labels,
percentages that never round to 100%, a passing check that names its real largest error, the
CLI's --version and option suggestions, the timing note of check, and dir(tensorcalc)."""

import numpy as np
import pytest

import tensorcalc as tc
from tensorcalc.cli import main
from tensorcalc.core.render import percent


def _net_and_grads():
    net = tc.Network.random([3, 4, 2], seed=0)
    x, y = np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0])
    return net, tc.backprop(net, x, y)


def test_indexing_gives_entries_and_sub_derivatives():
    _, g = _net_and_grads()
    W1 = g["W1"]
    row = W1[0]
    assert isinstance(row, tc.Derivative) and row.shape == (3,) and row.wrt == "W^1[0]"
    np.testing.assert_array_equal(row.dense(), W1.dense()[0])
    assert W1[1, 2] == float(W1.dense()[1, 2])
    J = tc.Derivative.from_array(np.arange(24.0).reshape(2, 3, 4), (2,), (3, 4), of="z",
                                 wrt="W")
    assert J[1].kind == "scalar-by-matrix" and J[1].of == "z[1]"
    assert J[1, 2].shape == (4,) and J[1, 2].wrt == "W[2]"
    np.testing.assert_array_equal(J[:, 0], np.arange(24.0).reshape(2, 3, 4)[:, 0])
    with pytest.raises(tc.TensorcalcError, match="too many indices"):
        J[0, 0, 0, 0]


def test_to_layout_keeps_kind_and_symbols():
    _, g = _net_and_grads()
    num = g["W1"].to_layout("numerator")
    assert (num.kind, num.of, num.wrt, num.layout) == ("scalar-by-matrix", "C", "W^1",
                                                        "numerator")
    np.testing.assert_array_equal(np.asarray(num), g["W1"].dense().T)
    assert "scalar-by-matrix dC/dW^1, numerator layout" in repr(num)
    assert type(num + 1) is np.ndarray  # arithmetic gives plain arrays


@pytest.mark.parametrize("share, shown", [(0.998, "99.8%"), (0.99996, "99.996%"),
                                          (1.0, "100%"), (0.0, "0%"), (0.25, "25%"),
                                          (0.004, "0.4%")])
def test_percent_never_rounds_to_0_or_100(share, shown):
    assert percent(share) == shown


def test_a_derivative_that_is_99_8_percent_zeros_is_not_shown_as_100():
    d = tc.Derivative.identity((500,))
    assert d.structural_zero_fraction == pytest.approx(0.998)
    assert "(99.8% structural zeros)" in repr(d)


def test_a_passing_check_names_its_largest_error_not_a_zero_entry():
    z = np.array([0.5, -1.0, 2.0])
    exact = tc.sigmoid.derivative(z).dense()
    claimed = exact.copy()
    claimed[2, 2] += 1e-9  # a small error, within the tolerance, off the first entry
    report = tc.check_derivative(tc.Derivative.from_array(claimed, (3,), (3,)), tc.sigmoid, z)
    assert report.ok
    assert report.worst_index == (2, 2)
    assert report.abs_error > 5e-10


def test_cli_version_and_close_option_suggestion(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"tensorcalc " \
                                                                        f"{tc.__version__}"
    with pytest.raises(SystemExit) as done:
        main(["check", "--sise", "3", "4", "2"])
    assert done.value.code == 2
    assert "--sise -> did you mean --sizes?" in capsys.readouterr().err


def test_every_cli_option_states_its_default():
    from tensorcalc.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    checked = 0
    for command in sub.choices.values():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert "default" in (action.help or ""), action.option_strings
                checked += 1
    assert checked >= 20


def test_check_times_full_on_a_repeated_call():
    net = tc.Network.random([3, 5, 2], seed=4)
    report = tc.compare(net, np.ones(3), np.array([0.0, 1.0]), methods=("shortcut",))
    assert "full is timed on a repeated call" in str(report)


def test_dir_shows_the_public_names_only():
    names = dir(tc)
    assert {"Derivative", "backprop", "check_layer", "Network"} <= set(names)
    assert not {"contract", "plan", "render", "core"} & set(names)
