"""A small CNN, the case where the shortcuts "fall apart": every derivative a typed tensor.

Run ``python examples/seed000_cnn.py [PNG]``; with a file name it also plots dY/dX.

The softmax article's author worked the softmax Jacobian out by hand once his small CNN made
the usual shortcut formulas hard to trust. Here a CNN on an 8x8 image is differentiated by the
full chain rule. The convolution's derivatives are stored as a factor plus one window relation
per spatial axis, [i = s o + d k - p], never as the 6-tensor dY/dX; the chain for dC/dK is
written out in index notation; the classic shortcuts (the kernel gradient as a correlation of
the input with the upstream gradient, the input gradient as a "full" convolution of the
upstream gradient with the kernel rotated by 180 degrees, max pooling routing the gradient to
each window's maximum) are checked to be that chain; every backprop method agrees.
"""

import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    np.set_printoptions(precision=4, suppress=True)
    net = tc.Network.stack("conv 4 3, relu, maxpool 2, flatten, dense 10, softmax",
                           loss="cross_entropy", input_shape=(1, 8, 8), seed=0)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(1, 8, 8)), 3
    print(net, "\none 8x8 image, class", y, "\n")

    # -------------------------------------------------------------- the 6-tensor dY/dX
    rec = net.forward(x).records[0]
    dY_dX = rec.node.layer.local(rec.ctx, "x")
    stored = sum(f.array.size for f in dY_dX.factors)
    print(dY_dX)
    print(f"  {dY_dX.index_notation()}")
    print(f"  dense: {dY_dX.nbytes_dense:,} bytes ({dY_dX.structural_zero_fraction:.1%} "
          f"structural zeros); stored: the kernel, {stored} numbers, and 2 relations\n")
    checks.claim("dY/dX is a rank-3-by-rank-3 tensor stored as the kernel and two relations",
                 dY_dX.shape == (4, 6, 6, 1, 8, 8) and len(dY_dX.terms[0].relations) == 2)

    # -------------------------------------------------------------- the chain for dC/dK
    g = tc.backprop(net, x, y, "full")
    steps = tc.explain(net, x, y, "K1").steps
    for step in steps:
        print(f"{step.target}:\n  {step.result.index_notation()}\n  shortcut: {step.shortcut}")
    upstream = {s.target: s for s in g.trace}["dC/dy^1"].result.compact  # dC/dY, (4, 6, 6)

    # -------------------------------------------------------------- the shortcuts, by hand
    K = net.params["K1"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (1,6,6,3,3)
    dK = np.einsum("eopkl,cop->cekl", windows, upstream)  # correlate input with dC/dY
    checks.check("kernel gradient == correlation of the input with dC/dY",
                 float(np.max(np.abs(g["K1"].dense() - dK))), 1e-12)
    padded = np.pad(upstream, ((0, 0), (2, 2), (2, 2)))  # "full" mode
    rotated = K[:, :, ::-1, ::-1]
    full = np.einsum("copkl,cekl->eop",
                     np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2)),
                     rotated)
    through = tc.chain(tc.Derivative.from_array(upstream, (), upstream.shape, of="C",
                                                wrt="y^1"), dY_dX).dense()
    checks.check("input gradient == full convolution with the rot180 kernel",
                 float(np.max(np.abs(through - full))), 1e-12)
    rec_pool = net.forward(x).records[2]
    dq = rng.normal(size=rec_pool.ctx.y.shape)
    routed, _ = rec_pool.node.layer.backward(dq, rec_pool.ctx)
    pool_chain = tc.chain(tc.Derivative.from_array(dq, (), dq.shape, of="C", wrt="q^1"),
                          rec_pool.node.layer.local(rec_pool.ctx, "x")).dense()
    checks.check("max pooling routes the gradient to each window's maximum",
                 float(np.max(np.abs(routed - pool_chain))), 1e-14)

    # -------------------------------------------------------------- every method agrees
    print()
    reference = {k: v.dense() for k, v in g.items()}
    checks.methods_agree(net, x, y, reference, [("dense", 1e-12), ("shortcut", 1e-12),
                                                ("numeric", 1e-6)])
    if len(sys.argv) > 1:  # python examples/seed000_cnn.py dY_dX.png
        tc.plot(dY_dX).savefig(sys.argv[1], dpi=60)
        print(f"\nwrote {sys.argv[1]}: dY/dX flattened to (output, input), structural zeros grey")
    return checks.finish("the CNN's shortcuts are the full chain rule")


if __name__ == "__main__":
    sys.exit(main())
