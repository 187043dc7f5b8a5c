"""One layer's gradient three ways: index notation, einsum, matrix notation.

For z = W a + b, a = sigma(z) and a scalar cost C, the chain
    dC/dW_kj = sum_i dC/da_i * sigma'(z_i) * delta_ik * a_j
has its Kronecker delta collapse the sum over i, leaving the outer product
    dC/dW = (dC/da (.) sigma'(z)) a^T.
This script builds the chain from typed derivatives, prints the einsum it contracts, and checks
it against the explicit loop, np.einsum on the dense tensors, and the matrix formula.
"""

import sys

import numpy as np

import tensorcalc as tc


def main() -> int:
    rng = np.random.default_rng(0)
    W, b, a_prev, y = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3), np.zeros(4)
    z = tc.linear(W, a_prev, b)
    a = tc.sigmoid(z)

    dC_da = tc.squared_error.derivative(a, y)
    da_dz = tc.sigmoid.derivative(z)
    dz_dW = tc.linear.derivative(W, a_prev, b, wrt="W")
    for D in (dC_da, da_dz, dz_dW):
        print(D)
    grad = tc.chain(dC_da, da_dz, dz_dW)
    print("\nchained:", grad)
    print("einsum spec of the chain:", grad.spec, "over", [op[0] for op in grad.operands])

    g, s = dC_da.dense(), tc.sigmoid.prime(z)
    loops = np.zeros((4, 3))
    for k in range(4):
        for j in range(3):
            loops[k, j] = sum(g[i] * s[i] * (1.0 if i == k else 0.0) * a_prev[j] for i in range(4))
    dense_einsum = np.einsum("i,ik,kpj->pj", g, da_dz.dense(), dz_dW.dense())
    matrix = np.outer(g * s, a_prev)

    ok = True
    for name, value in (("index loops", loops), ("dense einsum", dense_einsum),
                        ("matrix (g * s') a^T", matrix)):
        err = float(np.max(np.abs(grad.dense() - value)))
        ok &= err < 1e-12
        print(f"{name:>22}: max |difference| = {err:.1e}")
    print("all three notations agree" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
