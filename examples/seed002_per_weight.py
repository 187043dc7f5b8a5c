"""Seed 002's backpropagation one weight at a time, with plain Python loops.

Seed 002 takes a network without biases whose hidden layers apply phi = tanh and whose last layer
is linear, so the network's output yhat is the logits. For one weight it derives (Eq. 8)

    de/dw^l_ij = de/do^l_i * phi'(z^l_i) * o^(l-1)_j,

where o^l is the output of layer l, and it finds de/do^l by running backwards (Eq. 12):

    de/do^l_i = sum_k de/do^(l+1)_k * phi'(z^(l+1)_k) * w^(l+1)_ki,

starting from the loss. For the negative log-likelihood of class c, written as
logsumexp(yhat) - yhat_c, the start is de/dyhat_i = softmax(yhat)_i - 1_(i=c). On the linear last
layer phi' is 1.

This script evaluates these formulas with explicit loops over i, j and k on Python floats (no
matrix operations inside the loops) and compares them with `tc.backprop` on
`tc.Network.from_params` with no biases, `output="identity"` and `loss="nll"`. It also shows that
tensorcalc's delta^l is seed 002's de/do^l_i * phi'(z^l_i).
"""

import math
import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    check = checks.check

    rng = np.random.default_rng(5)
    sizes = [4, 5, 4, 3]
    params = {f"W{l}": rng.normal(0.0, 1.0 / math.sqrt(sizes[l - 1]), (sizes[l], sizes[l - 1]))
              for l in range(1, len(sizes))}
    net = tc.Network.from_params(params, hidden="tanh", output="identity", loss="nll")
    x, c = rng.normal(size=sizes[0]), 1
    L = net.depth
    print(net)
    print(f"parameters: {list(net.params)} (no biases); input x = {np.round(x, 4)}; "
          f"target class c = {c}\n")

    # the network as nested lists of Python floats
    W = {l: net.params[f"W{l}"].tolist() for l in range(1, L + 1)}

    def phi_prime(l: int, zi: float) -> float:
        return 1.0 - math.tanh(zi) ** 2 if l < L else 1.0   # the last layer is linear

    # -------------------------------------------------------------- forward, one unit at a time
    o, z = {0: x.tolist()}, {}
    for l in range(1, L + 1):
        z[l] = []
        for k in range(sizes[l]):
            total = 0.0
            for m in range(sizes[l - 1]):
                total += W[l][k][m] * o[l - 1][m]
            z[l].append(total)
        o[l] = [math.tanh(v) for v in z[l]] if l < L else list(z[l])
    fw = net.forward(x)
    for l in range(1, L + 1):
        check(f"loop forward z^{l} = tc forward z^{l}",
              float(np.max(np.abs(np.array(z[l]) - fw.z[l]))), 1e-12)

    # -------------------------------------------------------------- the output error
    yhat = o[L]
    top = max(yhat)
    lse = top + math.log(sum(math.exp(v - top) for v in yhat))
    loss = lse - yhat[c]
    de_do = {L: [math.exp(yhat[i] - lse) - (1.0 if i == c else 0.0) for i in range(sizes[L])]}
    print(f"\nlogits yhat = {np.round(yhat, 4)}")
    print(f"e = logsumexp(yhat) - yhat_c = {loss:.6f}")
    print(f"de/dyhat = softmax(yhat) - 1_(i=c) = {np.round(de_do[L], 4)}")
    check("e = net.loss(x, c)", abs(loss - net.loss(x, c)), 1e-12)
    check("de/dyhat = tc.nll.derivative(yhat, c)",
          float(np.max(np.abs(np.array(de_do[L]) - tc.nll.derivative(fw.z[L], c).dense()))),
          1e-12)
    onehot = np.eye(sizes[L])[c]
    check("de/dyhat = tc.softmax(yhat) - onehot(c)",
          float(np.max(np.abs(np.array(de_do[L]) - (tc.softmax(fw.z[L]) - onehot)))), 1e-12)

    # -------------------------------------------------------------- Eq. 12, backwards
    for l in range(L - 1, 0, -1):
        de_do[l] = []
        for i in range(sizes[l]):
            total = 0.0
            for k in range(sizes[l + 1]):
                total += de_do[l + 1][k] * phi_prime(l + 1, z[l + 1][k]) * W[l + 1][k][i]
            de_do[l].append(total)

    # -------------------------------------------------------------- Eq. 8, weight by weight
    grads = {}
    for l in range(1, L + 1):
        rows = []
        for i in range(sizes[l]):
            row = []
            for j in range(sizes[l - 1]):
                row.append(de_do[l][i] * phi_prime(l, z[l][i]) * o[l - 1][j])
            rows.append(row)
        grads[f"W{l}"] = np.array(rows)
    print("\nde/dw^1_ij from Eq. 8:\n" + str(np.round(grads["W1"], 5)))

    # -------------------------------------------------------------- against tensorcalc
    print("\nAgainst tc.backprop:")
    full = tc.backprop(net, x, c, method="full")
    print(f"  gradients returned: {list(full)}")
    for method, tol in (("full", 1e-10), ("shortcut", 1e-10), ("numeric", 1e-6)):
        result = full if method == "full" else tc.backprop(net, x, c, method=method)
        for name, G in grads.items():
            check(f"Eq. 8 vs {method:<8} de/d{name}",
                  float(np.max(np.abs(G - result[name].dense()))), tol)
    trace = {s.target: s for s in full.trace}
    for l in range(L, 0, -1):
        step = trace.get(f"delta^{l}")
        seed_delta = np.array([de_do[l][i] * phi_prime(l, z[l][i]) for i in range(sizes[l])])
        if step is None:
            checks.failures.append(f"no delta^{l} in the backprop trace")
            print(f"  [MISMATCH] no delta^{l} in the backprop trace")
            continue
        print(f"  delta^{l}: {step.shortcut}")
        check(f"tc delta^{l} = de/do^{l}_i phi'(z^{l}_i)",
              float(np.max(np.abs(step.result.compact - seed_delta))), 1e-12)

    return checks.finish("seed 002: per-weight loops match the typed chain rule")


if __name__ == "__main__":
    sys.exit(main())
