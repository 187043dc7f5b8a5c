"""Benchmark cases for second order: hvp against a shortcut backprop, Hessian blocks against
torch.func.hessian, and a block's diagonal against a gradient. Used by run.py."""

from __future__ import annotations

import numpy as np

import tensorcalc as tc


def _mlp(sizes, batch: int):
    net = tc.Network.random(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy",
                            seed=0)
    rng = np.random.default_rng(1)
    return net, rng.normal(size=(batch, sizes[0])), rng.integers(sizes[-1], size=batch)


def _torch_loss(torch, net, x, y):
    """The same loss in torch, as a function of the parameters in ``net.params`` order."""
    names = list(net.params)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def loss(*params):
        p, a, depth = dict(zip(names, params)), xt, len(names) // 2
        for l in range(1, depth):
            a = torch.sigmoid(a @ p[f"W{l}"].T + p[f"b{l}"])
        z = a @ p[f"W{depth}"].T + p[f"b{depth}"]
        return -torch.log_softmax(z, -1)[torch.arange(len(y)), yt].mean()

    return loss, [torch.tensor(net.params[k]) for k in names]


def second_order_cases(ops: dict, cfg, run_case) -> list[dict]:
    cases = []
    net, x, y = _mlp([784, 512, 512, 10], 64)
    v = {k: np.ones_like(p) for k, p in net.params.items()}
    fns = {"hvp": lambda: np.concatenate([a.ravel() for a in tc.hvp(net, x, y, v).values()]),
           "shortcut": lambda: np.concatenate([g.dense().ravel() for g in tc.backprop(
               net, x, y, "shortcut").values()])}
    cases.append(_plain(run_case, "hvp, dense [784, 512, 512, 10] batch 64", fns, "shortcut",
                        cfg))
    net, x, y = _mlp([64, 128, 10], 16)
    fns = {"full": lambda: tc.hessian(net, x, y, "W2").dense(),
           "diagonal": lambda: tc.hessian(net, x, y, "W2").diagonal(),
           "gradient": lambda: tc.backprop(net, x, y)["W2"].dense()}
    if "torch" in ops:
        torch = ops["torch"].lib
        loss, params = _torch_loss(torch, net, x, y)
        fns["torch.func.hessian"] = lambda: torch.func.hessian(
            lambda W2: loss(params[0], params[1], W2, params[3]))(params[2])
    if "jax" in ops:
        fns["jax.hessian jit"] = _jax_block(ops["jax"], net, x, y, "W2")
    baseline = "torch.func.hessian" if "torch" in ops else "full"
    cases.append(_plain(run_case, "Hessian block W2 x W2, dense [64, 128, 10] batch 16", fns,
                        baseline, cfg))
    net, x, y = _mlp([16, 32, 4], 16)
    fns = {"full": lambda: tc.hessian(net, x, y).matrix(),
           "blocks": lambda: _flat(tc.hessian(net, x, y), net)}
    if "torch" in ops:
        torch = ops["torch"].lib
        loss, params = _torch_loss(torch, net, x, y)
        sizes = [p.numel() for p in params]

        def whole():
            H = torch.func.hessian(loss, argnums=tuple(range(len(params))))(*params)
            return np.block([[H[i][j].reshape(sizes[i], sizes[j]).numpy()
                              for j in range(len(sizes))] for i in range(len(sizes))])
        fns["torch.func.hessian"] = whole
    if "jax" in ops:
        fns["jax.hessian jit"] = _jax_block(ops["jax"], net, x, y, None)
    baseline = "torch.func.hessian" if "torch" in ops else "full"
    cases.append(_plain(run_case, "whole Hessian, dense [16, 32, 4] batch 16 (676 parameters)",
                        fns, baseline, cfg))
    return cases


def _jax_block(o, net, x, y, wrt):
    """``jax.jit(jax.hessian(loss))`` by one parameter (or every parameter, flattened into one
    matrix), compiled by a first call, its result ready when timed."""
    from peers import mean_xent

    jax = o.lib
    params = {k: o.asarray(v) for k, v in net.params.items()}
    xs, onehot = o.asarray(x), o.asarray(np.eye(net.sizes[-1])[y])
    depth = len(net.params) // 2
    if wrt is not None:
        def loss(w):
            return mean_xent(o, params | {wrt: w}, xs, onehot, depth)
        f = jax.jit(jax.hessian(loss))
        return lambda: np.asarray(f(params[wrt]).block_until_ready())
    names = list(params)
    sizes = [int(np.prod(params[k].shape)) for k in names]
    f = jax.jit(jax.hessian(lambda p: mean_xent(o, p, xs, onehot, depth)))

    def whole():
        H = f(params)
        return np.block([[np.asarray(H[p][q]).reshape(sizes[i], sizes[j])
                          for j, q in enumerate(names)] for i, p in enumerate(names)])
    return whole


def _flat(blocks, net):
    """Every block in one (P, P) matrix, parameters in order."""
    names = list(net.params)
    return np.block([[blocks[p, q].dense().reshape(net.params[p].size, net.params[q].size)
                      for q in names] for p in names])


def _plain(run_case, name, fns, baseline, cfg):
    """run_case, comparing each answer of the same shape with the full method's."""
    return run_case(name, fns, baseline, cfg, set(), np.asarray(fns["full"]()) if "full" in fns
                    else None)


def second_order_targets(rows: dict) -> list[dict]:
    """hvp <= 4x shortcut; blocks faster than torch.func.hessian; diagonal <= 10x gradient."""
    def ratio(case, a, b):
        x, y = (rows.get((case, m), {}).get("median_s") for m in (a, b))
        return x / y if x is not None and y else None

    block = "Hessian block W2 x W2, dense [64, 128, 10] batch 16"
    whole = "whole Hessian, dense [16, 32, 4] batch 16 (676 parameters)"
    checks = [("hvp, dense [784, 512, 512, 10] batch 64", "hvp", "shortcut", 4.0),
              (block, "full", "torch.func.hessian", 1.0), (block, "full", "jax.hessian jit", 1.0),
              (whole, "full", "torch.func.hessian", 1.0), (whole, "full", "jax.hessian jit", 1.0),
              ("Hessian block W2 x W2, dense [64, 128, 10] batch 16", "diagonal", "gradient",
               10.0)]
    out = []
    for case, a, b, limit in checks:
        value = ratio(case, a, b)
        status = "skip" if value is None else "pass" if value <= limit else "miss"
        out.append({"target": f"time {a}/{b}, {case}", "value": value, "limit": limit,
                    "status": status})
    return out
