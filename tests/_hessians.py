"""Shared checks of Hessian blocks for the second-order tests: drawn data for a network, the
blocks against central differences of the gradient, the dense method and Hessian-vector
products, and against torch.func.hessian of a loss the test writes out."""

import numpy as np

import tensorcalc as tc


def draw_data(net, batch: int, rng):
    """An input of ``batch`` samples (one sample without a batch axis for 0) and targets the
    network's loss takes (class indices for nll and cross-entropy)."""
    lead = (batch,) if batch else ()
    x = rng.normal(size=lead + net.input_shape)
    out = net(x)
    if net.loss_fn.name in ("nll", "cross_entropy"):
        y = rng.integers(out.shape[-1], size=lead) if batch else int(rng.integers(out.shape[-1]))
    else:
        y = rng.normal(size=out.shape)
    return x, y


def assert_blocks_agree(net, x, y, rng, dense_rtol=1e-12, dense_atol=1e-14):
    """Every block == central differences of the gradient (1e-5 relative), == the dense method,
    and Hessian-vector products == the blocks times v."""
    H, N = tc.hessian(net, x, y), tc.hessian(net, x, y, method="numeric")
    D = tc.hessian(net, x, y, method="dense")
    scale = max(1.0, max(float(np.abs(N[k].dense()).max()) for k in N))
    for key in H:
        np.testing.assert_allclose(H[key].dense(), N[key].dense(), rtol=1e-5,
                                   atol=1e-6 * scale, err_msg=str(key))
        np.testing.assert_allclose(H[key].dense(), D[key].dense(), rtol=dense_rtol,
                                   atol=dense_atol, err_msg=str(key))
    v = {k: rng.normal(size=p.shape) for k, p in net.params.items()}
    hv = tc.hvp(net, x, y, v)
    for p in net.params:
        want = sum(np.tensordot(H[p, q].dense(), v[q], axes=v[q].ndim) for q in net.params)
        np.testing.assert_allclose(hv[p], want, rtol=1e-9, atol=1e-12 * scale)


def torch_hessian(torch, net, loss):
    """torch.func.hessian of ``loss(*params)`` at the network's parameters, in their order."""
    names = list(net.params)
    return torch.func.hessian(loss, argnums=tuple(range(len(names))))(
        *(torch.tensor(net.params[k]) for k in names))


def assert_matches_torch(torch, net, x, y, loss, atol=1e-12, what=""):
    """Every block of ``tc.hessian`` == torch.func.hessian of ``loss`` (1e-9 relative)."""
    ref = torch_hessian(torch, net, loss)
    H = tc.hessian(net, x, y)
    names = list(net.params)
    for i, p in enumerate(names):
        for j, q in enumerate(names):
            np.testing.assert_allclose(H[p, q].dense(), ref[i][j].numpy(), rtol=1e-9,
                                       atol=atol, err_msg=f"{what} {p}, {q}")
