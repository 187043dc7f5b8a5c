"""Hessians of drawn stacks of every layer kind and loss against torch.func.hessian (skipped
where torch is not installed). torch runs the same mirror forward pass as the gradient
cross-checks, with batch, layer and group norm written out: torch's fused norms are not
differentiated twice correctly by torch.func.hessian (their mixed blocks come out wrong)."""

from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from _hessians import torch_hessian
from hypothesis import HealthCheck, given, settings

import tensorcalc as tc
from tensorcalc import strategies as tcs

torch = pytest.importorskip("torch")
import test_crosscheck_stacks as mirror  # noqa: E402  (needs torch: imported after the skip)


def _normalise(x, dims, eps):
    mu = x.mean(dims, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(dims, keepdim=True) + eps)


def _channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _batch_norm(x, _mean, _var, gamma, beta, training=True, eps=1e-5):
    dims = (0,) if x.ndim == 2 else (0,) + tuple(range(2, x.ndim))
    xhat = _normalise(x, dims, eps)
    return (gamma * xhat + beta) if x.ndim == 2 else _channel(gamma, x) * xhat + _channel(beta, x)


def _layer_norm(x, shape, gamma, beta, eps=1e-5):
    return gamma * _normalise(x, tuple(range(-len(shape), 0)), eps) + beta


def _group_norm(x, groups, gamma, beta, eps=1e-5):
    grouped = x.reshape(x.shape[0], groups, -1)
    xhat = _normalise(grouped, (2,), eps).reshape(x.shape)
    return _channel(gamma, x) * xhat + _channel(beta, x)


@contextmanager
def _written_out_norms():
    fused = mirror.F
    mirror.F = SimpleNamespace(**{k: getattr(fused, k) for k in dir(fused)
                                  if not k.startswith("__")})
    mirror.F.batch_norm, mirror.F.layer_norm = _batch_norm, _layer_norm
    mirror.F.group_norm = _group_norm
    try:
        yield
    finally:
        mirror.F = fused


def _torch_hessian(net, x, y):
    names = list(net.params)
    numbers = mirror._numbering(net.nodes)
    mirror._flat_single[0] = np.ndim(x) == len(net.input_shape)

    def loss(*ps):
        params = dict(zip(names, ps))
        total = mirror._loss(net, mirror._forward(net.layers, params, numbers,
                                                  torch.as_tensor(x)), y)
        return total + net.weight_decay * sum(torch.sum(p ** 2) for k, p in params.items()
                                              if k[0] in "WK")

    with _written_out_norms():
        return torch_hessian(torch, net, loss)


def _assert_hessian_matches_torch(net, x, y):
    ref = _torch_hessian(net, x, y)
    H = tc.hessian(net, x, y)
    names = list(net.params)
    scale = max(1.0, max(float(ref[i][j].abs().max()) for i in range(len(names))
                         for j in range(len(names))))
    for i, p in enumerate(names):
        for j, q in enumerate(names):
            np.testing.assert_allclose(H[p, q].dense(), ref[i][j].numpy(), rtol=1e-9,
                                       atol=1e-11 * scale, err_msg=f"{p}, {q}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tcs.stacks(max_depth=3, max_width=4, max_batch=3))
def test_drawn_stacks_match_torch_func_hessian(case):
    _assert_hessian_matches_torch(*case)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tcs.conv_stacks(max_size=6))
def test_drawn_cnns_match_torch_func_hessian(case):
    _assert_hessian_matches_torch(*case)
