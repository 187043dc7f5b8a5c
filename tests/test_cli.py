"""The tensorcalc command and the index-notation example, run as subprocesses."""

import subprocess
import sys
from pathlib import Path

import pytest

from tensorcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "tensorcalc", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_check_default_is_the_3_4_2_network_and_passes():
    proc = run("check")
    assert proc.returncode == 0, proc.stderr
    assert "sizes=[3, 4, 2]" in proc.stdout and "all methods agree" in proc.stdout


@pytest.mark.parametrize("options", [
    ["--loss", "cross_entropy", "--batch", "5", "--hidden", "tanh"],
    ["--loss", "nll", "--no-bias", "--sizes", "4", "6", "5", "3", "--hidden", "relu"],
    ["--dtype", "float32", "--batch", "3", "--hidden", "softplus"],
])
def test_check_options(options):
    proc = run("check", *options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all methods agree" in proc.stdout


def test_check_exits_non_zero_when_a_method_disagrees(monkeypatch, capsys):
    import tensorcalc as tc

    monkeypatch.setattr(tc.Elementwise, "hadamard", lambda self, up, z: up * self.prime(z) * 1.01)
    assert main(["check"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_explain_command():
    proc = run("explain", "--param", "b1", "--batch", "2")
    assert proc.returncode == 0, proc.stderr
    assert "dC/db^1 for" in proc.stdout and "delta^1 = (W^2T delta^2)" in proc.stdout


def test_bad_options_give_clear_errors():
    proc = run("explain", "--param", "W7")
    assert proc.returncode == 2 and "unknown parameter 'W7'" in proc.stderr
    proc = run("check", "--loss", "nll", "--output", "sigmoid")
    assert proc.returncode == 2 and "must be 'identity'" in proc.stderr
    proc = run("check", "--hidden", "swish")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    help_text = run("--help").stdout
    assert "check" in help_text and "explain" in help_text


def test_index_notation_example_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "index_notation.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all three notations agree" in proc.stdout


def test_readme_figures_script(tmp_path):
    pytest.importorskip("matplotlib")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "make_readme_figures.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dz_dW.png").stat().st_size > 5000
    assert (tmp_path / "chain_W1.png").stat().st_size > 5000


def test_check_leaves_numeric_out_on_large_networks_unless_asked(capsys):
    assert main(["check", "--sizes", "200", "120", "3"]) == 0
    out = capsys.readouterr().out
    assert "numeric left out: 24,483 parameters" in out and "numeric vs full" not in out
    assert main(["check", "--methods", "full,shortcut"]) == 0
    out = capsys.readouterr().out
    assert "shortcut vs full" in out and "dense vs full" not in out


def test_explain_plot_to_a_bad_path_is_a_clear_error(tmp_path):
    pytest.importorskip("matplotlib")
    proc = run("explain", "--plot", str(tmp_path / "missing" / "x.png"))
    assert proc.returncode == 2 and "could not write" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("options", [
    ["--layers", "dense 16, relu, batchnorm, dense 10, softmax", "--input", "8", "--batch", "4",
     "--loss", "cross_entropy"],
    ["--layers", "dense 5 in_out, residual(dense 5, layernorm, tanh), dropout 0.3, dense 1",
     "--loss", "hinge", "--batch", "3", "--weight-decay", "0.01"],
    ["--sizes", "5,7,3", "--loss", "squared_error", "--scale", "0.5", "--reduction", "sum",
     "--batch", "2"],
    ["--sizes", "4", "3", "--loss", "binary_cross_entropy"],
    ["--layers", "conv 4 3, relu, maxpool 2, flatten, dense 10, softmax", "--input", "1", "8",
     "8", "--loss", "cross_entropy", "--batch", "2"],
    ["--layers", "conv 2 3 s2 p1 d2, tanh, avgpool 2, flatten, dense 3", "--input", "2", "11",
     "--loss", "nll"],
])
def test_check_stacks_and_losses(options):
    proc = run("check", *options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all methods agree" in proc.stdout


def test_explain_a_norm_parameter_and_the_grammar_in_help():
    proc = run("explain", "--layers", "dense 4, layernorm, relu, dense 2", "--param", "gamma2")
    assert proc.returncode == 0, proc.stderr
    assert "dC/dgamma^2 for Network.stack(" in proc.stdout and "xhat(z^1)" in proc.stdout
    help_text = run("check", "--help").stdout
    assert "residual(dense 8, layernorm, relu)" in help_text and "dropout P [seed]" in help_text


def test_bad_stack_options_give_clear_errors():
    proc = run("check", "--layers", "dense 4, lstm 3")
    assert proc.returncode == 2 and "unknown layer 'lstm'" in proc.stderr
    proc = run("check", "--layers", "dense 4, batchnorm, dense 2")
    assert proc.returncode == 2 and "--batch 2 or more" in proc.stderr
    proc = run("check", "--sizes", "3,x")
    assert proc.returncode == 2 and "whole numbers" in proc.stderr
