"""The peers of the benchmark: the same sigmoid MLP and softmax cross-entropy written once for
torch, jax and HIPS autograd (float64, weights copied from a tensorcalc Network).

Each peer is optional: :func:`load_peers` imports what is installed and says why the rest is
skipped. Used by ``benchmarks/run.py``.
"""

from __future__ import annotations

import importlib
from functools import partial
from types import SimpleNamespace

import numpy as np

PEER_MODULES = {"torch": ("torch", "torch.func"), "jax": ("jax", "jax.numpy"),
                "autograd": ("autograd", "autograd.numpy", "autograd.scipy.special")}
#: Method names in the results: forward + backward, and full Jacobians.
PEER_GRAD = {"torch": "torch backward", "jax": "jax.grad jit", "autograd": "autograd"}
PEER_JAC = {"torch": "torch.func.jacrev", "jax": "jax.jacrev jit"}


def load_peers() -> tuple[dict[str, SimpleNamespace], dict[str, str]]:
    """Import the optional peers: ops of each installed one, and why each missing one is skipped."""
    ops, skipped = {}, {}
    for name, modules in PEER_MODULES.items():
        try:
            ops[name] = peer_ops(name, [importlib.import_module(m) for m in modules][0])
        except ImportError as e:
            skipped[name] = f"{name} not installed ({e})"
    return ops, skipped


def peer_ops(name: str, lib) -> SimpleNamespace:
    """The module, float64 array conversion, sigmoid, log_softmax and sum of one peer."""
    if name == "torch":
        return SimpleNamespace(lib=lib, sum=lib.sum, sigmoid=lib.sigmoid,
                               log_softmax=lambda z: lib.log_softmax(z, dim=-1),
                               asarray=lambda a: lib.tensor(a, dtype=lib.float64))
    if name == "jax":
        lib.config.update("jax_enable_x64", True)
        return SimpleNamespace(lib=lib, sum=lib.numpy.sum, sigmoid=lib.nn.sigmoid,
                               log_softmax=lambda z: lib.nn.log_softmax(z, axis=-1),
                               asarray=lambda a: lib.numpy.asarray(a, dtype="float64"))
    anp, lse = lib.numpy, lib.scipy.special.logsumexp
    return SimpleNamespace(lib=lib, sum=anp.sum, sigmoid=lambda z: 0.5 * (anp.tanh(0.5 * z) + 1),
                           log_softmax=lambda z: z - lse(z, axis=-1, keepdims=True),
                           asarray=np.array)


def logits(o, params: dict, x, depth: int):
    """z^L of the sigmoid MLP, written once for every array library (``a @ W.T + b``)."""
    a = x
    for l in range(1, depth + 1):
        z = a @ params[f"W{l}"].T + params[f"b{l}"]
        a = o.sigmoid(z) if l < depth else z
    return a


def mean_xent(o, params: dict, x, onehot, depth: int):
    """Mean softmax cross-entropy over the batch (a single vector sample counts as N = 1)."""
    logp = o.log_softmax(logits(o, params, x, depth))
    return -o.sum(onehot * logp) / (x.shape[0] if x.ndim == 2 else 1)


def peer_grad(name: str, o, net, x, onehot):
    """A call that runs forward + backward of the mean cross-entropy in one peer."""
    p, xs, ts = {k: o.asarray(v) for k, v in net.params.items()}, o.asarray(x), o.asarray(onehot)

    def loss(p_, x_, t_):
        return mean_xent(o, p_, x_, t_, net.depth)
    if name == "torch":
        for v in p.values():
            v.requires_grad_()

        def torch_backward():
            for v in p.values():
                v.grad = None
            loss(p, xs, ts).backward()
            return {k: v.grad for k, v in p.items()}
        return torch_backward
    if name == "jax":
        grad = o.lib.jit(o.lib.grad(loss))
        return lambda: o.lib.block_until_ready(grad(p, xs, ts))
    return partial(o.lib.grad(loss), p, xs, ts)


def peer_jacobian(name: str, o, net, x, wrt: str):
    """A call that builds d(logits)/d(x or W1) with torch.func.jacrev or jax.jacrev (jit)."""
    p, xs = {k: o.asarray(v) for k, v in net.params.items()}, o.asarray(x)

    def f(v):
        return logits(o, p, v, net.depth) if wrt == "x" else logits(o, {**p, wrt: v}, xs,
                                                                     net.depth)
    arg = xs if wrt == "x" else p[wrt]
    if name == "torch":
        return lambda: o.lib.func.jacrev(f)(arg)
    jac = o.lib.jit(o.lib.jacrev(f))
    return lambda: o.lib.block_until_ready(jac(arg))
