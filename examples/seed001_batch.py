"""Backpropagation over a batch: the loss is a mean, and so is the gradient.

Seed 001 derives the single-sample rules dZ = dA (.) g'(Z), dW = dZ A_prev^T, dB = dZ and
dA_prev = W^T dZ, then stacks N samples side by side as columns and divides by N, so that
dW = dZ A_prev^T / N is the average of the per-sample outer products. tensorcalc stacks the
samples as rows instead: a batch is an (N, n) array, which makes seed 001's column matrix A our
array transposed. The batch index is a label shared by every factor, so the sum over samples is
just the sum over that label in the einsum of dC/dW.

The script checks that the batch loss is the mean of the per-sample losses, that the batch
gradient is the mean of the per-sample gradients, and that seed 001's column formulas, run on
transposed arrays, reproduce `tc.backprop(..., method="full")` (and the shortcut and numeric
methods) on the same batch.
"""

import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    check = checks.check

    rng = np.random.default_rng(11)
    N = 8
    net = tc.Network.random([3, 5, 2], hidden="tanh", output="sigmoid", loss="squared_error",
                            seed=4)
    X, Y = rng.normal(size=(N, 3)), rng.uniform(size=(N, 2))
    L = net.depth
    print(net)
    print(f"batch X {X.shape} and targets Y {Y.shape}: one sample per row "
          f"(seed 001's A^0 is X.T, shape {X.T.shape})\n")

    # -------------------------------------------------------------- the loss is a mean
    per_loss = np.array([net.loss(X[k], Y[k]) for k in range(N)])
    batch_loss = net.loss(X, Y)
    print(f"per-sample losses: {np.round(per_loss, 4)}")
    print(f"batch loss {batch_loss:.6f}; mean of per-sample {per_loss.mean():.6f}; "
          f"sum {per_loss.sum():.6f}")
    check("batch loss = (1/N) sum of per-sample losses", abs(batch_loss - per_loss.mean()), 1e-12)

    # -------------------------------------------------------------- the gradient is a mean
    print("\nThe batch gradient against the per-sample gradients:")
    batch = tc.backprop(net, X, Y, method="full")
    singles = [tc.backprop(net, X[k], Y[k], method="full") for k in range(N)]
    for name in net.params:
        mean = np.mean([s[name].dense() for s in singles], axis=0)
        check(f"dC/d{name} (batch) = mean over samples",
              float(np.max(np.abs(batch[name].dense() - mean))), 1e-12)

    print("\nHow the batch is carried: the sample label n is shared, never a block diagonal")
    fw = net.forward(X)
    for D in (net.loss_fn.derivative(fw.a[L], Y, names={"a": f"a^{L}"}),
              net.activation(L).derivative(fw.z[L], names={"z": f"z^{L}", "out": f"a^{L}"}),
              tc.linear.derivative(net.params["W1"], X, net.params["b1"], wrt="W")):
        print(f"  d{D.of}/d{D.wrt}: {D.kind}, shape {D.shape}, labels "
              f"{D.out_labels or '-'}|{D.in_labels}, factors {[op[:2] for op in D.operands]}")
    for step in batch.trace:
        print(f"  {step.target:>8}: einsum '{step.result.spec}'   ({step.shortcut})")

    # -------------------------------------------------------------- seed 001, columns
    print("\nSeed 001's column formulas, with A = our arrays transposed:")
    primes = {"tanh": lambda A: 1.0 - A ** 2, "sigmoid": lambda A: A * (1.0 - A)}
    W = {l: net.params[f"W{l}"] for l in range(1, L + 1)}
    B = {l: net.params[f"b{l}"][:, None] for l in range(1, L + 1)}   # n x 1 columns
    A, Z = {0: X.T}, {}
    for l in range(1, L + 1):
        Z[l] = W[l] @ A[l - 1] + B[l]          # bias broadcast across the N columns
        A[l] = np.tanh(Z[l]) if l < L else 1.0 / (1.0 + np.exp(-Z[l]))
        check(f"Z^{l} ({Z[l].shape[0]} x N) = our z^{l}.T", float(np.max(np.abs(Z[l]
                                                                          - fw.z[l].T))), 1e-12)
    trace = {s.target: s for s in batch.trace}
    dA = 2.0 * (A[L] - Y.T)                    # per-sample dC/dA, column by column
    for l in range(L, 0, -1):
        g_prime = primes[net.activation(l).name](A[l])
        dZ = dA * g_prime
        dW = dZ @ A[l - 1].T / N
        dB = dZ.sum(axis=1, keepdims=True) / N
        dA = W[l].T @ dZ
        ours = trace[f"delta^{l}"].result.compact
        check(f"our delta^{l} (carries the 1/N) = dZ^{l}.T / N",
              float(np.max(np.abs(ours - dZ.T / N))), 1e-12)
        check(f"dW^{l} = dZ^{l} A^{l - 1}T / N", float(np.max(np.abs(dW - batch[f"W{l}"].dense()))),
              1e-12)
        check(f"dB^{l} = (1/N) sum of the columns of dZ^{l}",
              float(np.max(np.abs(dB[:, 0] - batch[f"b{l}"].dense()))), 1e-12)

    # -------------------------------------------------------------- the other methods
    print("\nThe other backprop methods on the same batch:")
    checks.methods_agree(net, X, Y, batch.arrays(), (("shortcut", 1e-12), ("numeric", 1e-6)))

    return checks.finish("seed 001: batch loss and gradient are means over samples")


if __name__ == "__main__":
    sys.exit(main())
