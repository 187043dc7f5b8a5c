"""Softmax followed by cross-entropy: a dense Jacobian whose chain still collapses to p - y.

Seed 000 works through this pair in index notation. Unlike an elementwise activation, softmax
couples every output to every input, dp_i/dz_j = p_i (delta_ij - p_j), so its Jacobian has no
structural zeros off the diagonal. Multiplying it by the cross-entropy gradient -y_i / p_i
cancels the p_i, and the sum over i leaves p_j sum_i y_i - y_j, which is p_j - y_j for any
target whose entries add up to one. This script prints the Jacobian, counts its off-diagonal
nonzeros, chains the two typed derivatives, evaluates the same contraction with np.einsum,
np.dot and np.matmul, and then checks that a softmax/cross-entropy network gets the same
gradients from the full, dense, shortcut and numeric backprop methods.
"""

import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    check = checks.check

    np.set_printoptions(precision=4, suppress=True)
    rng = np.random.default_rng(7)
    n = 4
    z = rng.normal(size=n)
    c = 2
    y = np.zeros(n)
    y[c] = 1.0
    p = tc.softmax(z)
    print(f"logits z = {z}\nsoftmax p = {p} (sums to {p.sum():.15f})\none-hot y = {y}\n")

    # -------------------------------------------------------------- the softmax Jacobian
    dp_dz = tc.softmax.derivative(z)
    J = dp_dz.dense()
    print(dp_dz)
    print(f"formula: {tc.softmax.formulas['z']}")
    print(f"dp/dz =\n{J}")
    off = ~np.eye(n, dtype=bool)
    nonzero_off = int(np.count_nonzero(J[off]))
    print(f"off-diagonal nonzeros: {nonzero_off} of {n * (n - 1)}; structural zeros recorded: "
          f"{dp_dz.structural_zero_fraction:.0%}")
    checks.claim("not diagonal", nonzero_off > 0,
                 f"{nonzero_off} off-diagonal entries are nonzero")
    by_index = np.array([[p[i] * ((1.0 if i == j else 0.0) - p[j]) for j in range(n)]
                         for i in range(n)])
    check("dp_i/dz_j = p_i (delta_ij - p_j), entry by entry",
          float(np.max(np.abs(J - by_index))), 1e-14)
    check("dp/dz = diag(p) - p p^T", float(np.max(np.abs(J - (np.diag(p) - np.outer(p, p))))),
          1e-15)
    sig_like = tc.sigmoid.derivative(z).dense()
    print(f"(for contrast, sigmoid's Jacobian has {np.count_nonzero(sig_like[off])} off-diagonal "
          f"nonzeros: {tc.sigmoid.derivative(z).structure})")

    # -------------------------------------------------------------- chaining with cross-entropy
    print("\nChain the cross-entropy gradient with the softmax Jacobian:")
    dC_dp = tc.cross_entropy.derivative(p, y)
    print(dC_dp)
    print(f"dC/dp = -y / p = {dC_dp.dense() + 0.0}")
    dC_dz = tc.chain(dC_dp, dp_dz)
    print(f"chained: {dC_dz.kind} {dC_dz.shape}, einsum '{dC_dz.spec}'")
    print(f"dC/dz = {dC_dz.dense()}\np - y = {p - y}")
    check("chain(dC/dp, dp/dz) = p - y", float(np.max(np.abs(dC_dz.dense() - (p - y)))), 1e-12)
    g = dC_dp.dense()
    check("the same as np.einsum('i,ij->j')",
          float(np.max(np.abs(np.einsum("i,ij->j", g, J) - (p - y)))), 1e-12)
    check("the same as np.dot(g, J)", float(np.max(np.abs(np.dot(g, J) - (p - y)))), 1e-12)
    check("the same as g[None, :] @ J (a 1 x n row)",
          float(np.max(np.abs((g[None, :] @ J)[0] - (p - y)))), 1e-12)
    check("the same as nll on the logits, softmax(z) - 1_(i=c)",
          float(np.max(np.abs(tc.nll.derivative(z, c).dense() - (p - y)))), 1e-12)
    check("a class index target gives the same gradient",
          float(np.max(np.abs(tc.chain(tc.cross_entropy.derivative(p, c), dp_dz).dense()
                              - (p - y)))), 1e-12)

    # any target distribution (entries adding up to one) gives p - y as well
    soft = tc.softmax(rng.normal(size=n))
    soft_grad = tc.chain(tc.cross_entropy.derivative(p, soft), dp_dz).dense()
    check("a soft target (sums to 1) also gives p - y",
          float(np.max(np.abs(soft_grad - (p - soft)))), 1e-12)

    # -------------------------------------------------------------- a whole network
    print("\nA 5-6-4 network with tanh hidden units, softmax output, cross-entropy loss:")
    net = tc.Network.random([5, 6, 4], hidden="tanh", output="softmax", loss="cross_entropy",
                            seed=3)
    x = rng.normal(size=5)
    full = tc.backprop(net, x, c, method="full")
    print(f"{net}\nloss = {full.loss:.6f}")
    for step in full.trace:
        print(f"  {step.target:>8}: einsum '{step.result.spec}'   shortcut: {step.shortcut}")
    fw = net.forward(x)
    check("delta^2 from the chain = p - y", float(np.max(np.abs(full.trace[0].result.compact
                                                                 - (fw.output - y)))), 1e-12)
    checks.methods_agree(net, x, c, full.arrays(),
                         (("dense", 1e-12), ("shortcut", 1e-12), ("numeric", 1e-6)))

    return checks.finish("seed 000: softmax Jacobian is dense, yet dC/dz = p - y")


if __name__ == "__main__":
    sys.exit(main())
