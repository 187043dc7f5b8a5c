"""Benchmark cases for layer stacks: residual blocks with layer norm, batch norm, and a deep
residual stack at three depths (time should grow linearly with depth). Used by ``run.py``."""

from __future__ import annotations

import re
from functools import partial

import numpy as np

import tensorcalc as tc

RESIDUAL_DEPTHS = (6, 12, 24)


def residual_ln_net():
    blocks = [tc.Residual([tc.Dense(256), tc.LayerNorm(), "relu"]) for _ in range(4)]
    return tc.Network.stack([tc.Dense(256), *blocks, tc.Dense(10), "softmax"],
                            loss="cross_entropy", input_shape=(256,), seed=0)


def batchnorm_net():
    layers = [tc.Dense(256), tc.BatchNorm(), "relu", tc.Dense(256), tc.BatchNorm(), "relu",
              tc.Dense(10), "softmax"]
    return tc.Network.stack(layers, loss="cross_entropy", input_shape=(256,), seed=0)


def deep_residual_net(depth: int):
    blocks = [tc.Residual([tc.Dense(32), "tanh"]) for _ in range(depth)]
    return tc.Network.stack([tc.Dense(32), *blocks, tc.Dense(10), "softmax"],
                            loss="cross_entropy", input_shape=(32,), seed=0)


def _torch_forward(torch, net, params, x, logits=False):
    """The same stack in torch, from the layers' configurations (log-probabilities, or the
    logits before a final softmax)."""
    F = torch.nn.functional

    def run(layers, names, x):
        for layer, name in zip(layers, names):
            if isinstance(layer, tc.Dense):
                x = x @ params[f"W{name}"].T + params[f"b{name}"]
            elif isinstance(layer, tc.LayerNorm):
                x = F.layer_norm(x, x.shape[-1:], params[f"gamma{name}"], params[f"beta{name}"])
            elif isinstance(layer, tc.BatchNorm):
                x = F.batch_norm(x, None, None, params[f"gamma{name}"], params[f"beta{name}"],
                                 training=True)
            elif isinstance(layer, tc.Residual):
                x = x + run(layer.layers, name, x)
            elif isinstance(layer, tc.layers.Conv):
                single = x.ndim == 3
                x = F.conv2d(x[None] if single else x, params[f"K{name}"], params[f"b{name}"])
                x = x[0] if single else x
            elif isinstance(layer, tc.layers.MaxPool):
                x = F.max_pool2d(x, layer.kernel_size)
            elif isinstance(layer, tc.Flatten):
                x = x.reshape(x.shape[0], -1) if x.ndim == 4 else x.reshape(-1)
            elif isinstance(layer, tc.Softmax):
                x = x if logits else torch.log_softmax(x, -1)  # cross-entropy on log p
            else:
                x = {"relu": torch.relu, "tanh": torch.tanh}[layer.primitive.name](x)
        return x

    def numbering(nodes):
        return [numbering(n.children) if n.children else
                (re.sub("^[a-zA-Z]+", "", next(iter(n.names.values()))) if n.names else None)
                for n in nodes]

    return run(net.layers, numbering(net.nodes), x)


def lenet():
    return tc.Network.stack("conv 8 3, relu, maxpool 2, conv 16 3, relu, maxpool 2, flatten, "
                            "dense 10, softmax", loss="cross_entropy", input_shape=(1, 28, 28),
                            seed=0)


def lenet_logits(torch, net):
    """The logits of the LeNet-like network as a torch function of one image."""
    params = {k: torch.tensor(v) for k, v in net.params.items()}
    return lambda x: _torch_forward(torch, net, params, x, logits=True)


def torch_backward(torch, net, x, onehot):
    params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    xt, target = torch.tensor(x), torch.tensor(onehot)

    def step():
        for p in params.values():
            p.grad = None
        logp = _torch_forward(torch, net, params, xt)
        (-(target * logp).sum() / xt.shape[0]).backward()
        return {k: p.grad for k, p in params.items()}

    return step


def stack_cases(ops: dict, cfg, run_case, as_array) -> list[dict]:
    """The stack cases at batch 64 (residual depths at batch 16): full, shortcut, and torch."""
    rng = np.random.default_rng(1)
    nets = [("residual 4 x (dense 256, layernorm, relu)", residual_ln_net(), 64),
            ("batchnorm [256, 256, 256, 10]", batchnorm_net(), 64)]
    nets += [(f"residual depth {d} (dense 32, tanh)", deep_residual_net(d), 16)
             for d in RESIDUAL_DEPTHS]
    nets.append(("LeNet-like on 1x28x28", lenet(), 32))
    cases = []
    for name, net, batch in nets:
        x = rng.normal(size=(batch,) + net.input_shape)
        y = rng.integers(10, size=batch)
        methods = ("full", "shortcut") + (("dense",) if "LeNet" in name else ())
        fns = {m: partial(tc.backprop, net, x, y, method=m) for m in methods}
        if "torch" in ops:
            fns["torch backward"] = torch_backward(ops["torch"].lib, net, x, np.eye(10)[y])
        ref = as_array(tc.backprop(net, x, y, method="shortcut"))
        cases.append(run_case(f"stack {name} batch {batch}", fns, "shortcut", cfg,
                              {"full", "shortcut"}, ref))
    return cases


def lenet_jacobian_case(ops: dict, cfg, run_case) -> list[dict]:
    """The Jacobian of the LeNet logits by one input image, against torch.func.jacrev."""
    net = lenet()
    x = np.random.default_rng(2).normal(size=(1, 28, 28))
    fns = {"full": lambda: tc.jacobian(net, x, of="logits").dense()}
    if "torch" in ops:
        torch = ops["torch"].lib
        from torch.func import jacrev

        f, xt = lenet_logits(torch, net), torch.tensor(x)
        fns["torch.func.jacrev"] = lambda: jacrev(f)(xt)
    baseline = "torch.func.jacrev" if "torch" in ops else "full"
    return [run_case("Jacobian d logits / d image, LeNet-like 1 sample", fns, baseline, cfg,
                     {"full"}, fns["full"]())]
