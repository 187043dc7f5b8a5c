"""Assertions shared by the property tests of networks: every exact method agrees with the full
chain, and the full chain agrees with central differences."""

import numpy as np

import tensorcalc as tc


def max_rel(a, b, floor=1e-3):
    """Largest difference relative to the largest reference entry (at least ``floor``)."""
    scale = max(float(np.max(np.abs(b), initial=0.0)), floor)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def assert_exact_methods_agree(net, x, y, rtol=1e-10):
    full = tc.backprop(net, x, y, "full")
    for method in ("dense", "shortcut"):
        other = tc.backprop(net, x, y, method)
        assert list(other) == list(net.params)
        for name, value in net.params.items():
            assert full[name].shape == value.shape
            assert max_rel(other[name].dense(), full[name].dense()) <= rtol, (method, name, net)


def assert_full_matches_numeric(net, x, y):
    """Central differences of every parameter; a gradient that is zero up to rounding (a
    degenerate draw, such as a normalisation over two equal-and-opposite values) is held to
    an absolute floor of 1e-7 of the network's largest gradient entry, or of 1."""
    full = tc.backprop(net, x, y, "full")
    overall = max([1.0] + [float(np.abs(g.dense()).max(initial=0.0)) for g in full.values()])
    for name, value in net.params.items():
        report = tc.check_derivative(
            full[name], lambda v, n=name: net.with_param(n, v).loss(x, y), value)
        assert report.ok or report.abs_error <= 1e-7 * overall, f"{name} of {net}\n{report}"
