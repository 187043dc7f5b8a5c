"""Hypothesis strategies for property tests of derivatives and networks.

Install with the ``test`` extra (``pip install "tensorcalc[test]"``). Use them in your own tests:

>>> from hypothesis import given
>>> import tensorcalc as tc
>>> from tensorcalc import strategies as tcs
>>> @given(tcs.chains(length=3))
... def test_chain_is_associative(ds):
...     a, b, c = ds
...     assert abs((tc.chain(a, b) @ c).dense() - (a @ tc.chain(b, c)).dense()).max() < 1e-9
>>> test_chain_is_associative()

Inside a property test, :func:`assert_gradients_match` checks a hand-written backprop against
the full tensor chain and :func:`assert_jacobian_matches` a hand-written Jacobian against central
differences; both fail with the worst entry and ``note()`` what failed. The profile
``"tensorcalc-ci"`` (derandomized, no deadline) is registered on import:
``settings.load_profile(CI_PROFILE)``.
"""

from __future__ import annotations

try:
    from hypothesis import HealthCheck, Phase, settings
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("tensorcalc.strategies needs hypothesis: pip install hypothesis "
                      "(the project's 'test' extra)") from err

from ..testing import (
    assert_gradients_match,
    assert_intermediates_match,
    assert_jacobian_matches,
    assert_layer_matches,
    assert_vjp_matches,
    gradients_match,
)
from .cnn import conv_layers, conv_stacks
from .networks import (
    activations,
    class_indices,
    layer_sizes,
    losses,
    networks,
    one_hot_targets,
    outputs,
    pairings,
    stacks,
)
from .tensors import arrays, chains, derivatives, shapes, sums

#: Name of the registered CI profile: derandomized, no deadline, too-slow check off, and no
#: "explain" phase (it would point at the lines of the library's own failure report as the
#: explanation of a student's bug; the report itself says what is wrong).
CI_PROFILE = "tensorcalc-ci"
settings.register_profile(CI_PROFILE, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow],
                          phases=[p for p in Phase if p is not Phase.explain])

__all__ = [
    "CI_PROFILE", "activations", "arrays", "assert_gradients_match",
    "assert_intermediates_match", "assert_jacobian_matches",
    "assert_layer_matches", "assert_vjp_matches",
    "chains", "class_indices", "conv_layers", "conv_stacks", "derivatives", "gradients_match",
    "layer_sizes", "losses", "networks", "one_hot_targets", "outputs", "pairings", "shapes",
    "stacks", "sums",
]
