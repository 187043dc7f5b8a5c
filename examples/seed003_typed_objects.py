"""The 3-4-2 sigmoid network of seed 003, with every local derivative as a typed object.

Seed 003 reads each factor of the chain rule by its type: the gradient of a scalar cost is a
row vector, a layer's Jacobian is N_l x N_{l-1}, the activation's Jacobian is diagonal, and
dz/dW is a box of numbers with three indices whose entries are a Kronecker delta times an
activation. Here each of those factors is a `Derivative`. The script prints its kind, its
canonical shape and its numerator-layout shape (the layout seed 003 works in, where dC/dW has the
shape of W transposed), checks the entries against their formulas, chains the factors by hand
with `tc.chain`, and compares the result with seed 003's matrix recursion and with
`tc.backprop` run by the full, shortcut and numeric methods.
"""

import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    check, claim = checks.check, checks.claim

    net = tc.Network.random([3, 4, 2], hidden="sigmoid", output="sigmoid",
                            loss="squared_error", seed=0)
    x, y = np.array([0.8, -0.3, 0.5]), np.array([1.0, 0.0])
    W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
    fw = net.forward(x)
    a0, z1, a1, z2, a2 = fw.a[0], fw.z[1], fw.a[1], fw.z[2], fw.a[2]
    print(net)
    print(f"x = {x}, y = {y}, output a^2 = {np.round(a2, 4)}, C = sum (a^2 - y)^2 = "
          f"{net.loss(x, y):.6f}\n")

    # -------------------------------------------------------------- the local derivatives
    layer = [None, {"W": "W^1", "a": "a^0", "b": "b^1", "out": "z^1"},
             {"W": "W^2", "a": "a^1", "b": "b^2", "out": "z^2"}]
    dC_da2 = tc.squared_error.derivative(a2, y, names={"a": "a^2"})
    da2_dz2 = tc.sigmoid.derivative(z2, names={"z": "z^2", "out": "a^2"})
    da1_dz1 = tc.sigmoid.derivative(z1, names={"z": "z^1", "out": "a^1"})
    dz2_da1 = tc.linear.derivative(W2, a1, b2, wrt="a", names=layer[2])
    dz2_dW2 = tc.linear.derivative(W2, a1, b2, wrt="W", names=layer[2])
    dz1_dW1 = tc.linear.derivative(W1, a0, b1, wrt="W", names=layer[1])
    dz2_db2 = tc.linear.derivative(W2, a1, b2, wrt="b", names=layer[2])
    dz1_db1 = tc.linear.derivative(W1, a0, b1, wrt="b", names=layer[1])

    local = (dC_da2, da2_dz2, dz2_da1, da1_dz1, dz2_dW2, dz1_dW1, dz2_db2, dz1_db1)
    print(f"{'derivative':>10}  {'kind':<17} {'structure':<9} {'canonical':<10} "
          f"{'numerator':<10} denominator")
    for D in local:
        print(f"{'d' + D.of + '/d' + D.wrt:>10}  {D.kind:<17} {D.structure:<9} "
              f"{str(D.shape):<10} {str(D.to_layout('numerator').shape):<10} "
              f"{D.to_layout('denominator').shape}")

    print("\nWhat each one is:")
    claim("dC/da^2 is a gradient, a 1 x 2 row in numerator layout",
          dC_da2.kind == "gradient" and dC_da2.to_layout("numerator").shape == (1, 2))
    check("dC/da^2 = 2 (a^2 - y)", float(np.max(np.abs(dC_da2.dense() - 2 * (a2 - y)))), 1e-12)
    for D, z in ((da2_dz2, z2), (da1_dz1, z1)):
        s = tc.sigmoid(z)
        check(f"d{D.of}/d{D.wrt} = diag(sigma'(z)), sigma' = sigma (1 - sigma)",
              float(np.max(np.abs(D.dense() - np.diag(s * (1 - s))))), 1e-12)
    claim("dz^2/da^1 is a 2 x 4 Jacobian", dz2_da1.kind == "jacobian" and dz2_da1.shape == (2, 4))
    check("dz^2/da^1 = W^2", float(np.max(np.abs(dz2_da1.dense() - W2))), 1e-15)
    for D, W, a_prev in ((dz2_dW2, W2, a1), (dz1_dW1, W1, a0)):
        n_out, n_in = W.shape
        box = np.zeros((n_out, n_out, n_in))
        for i in range(n_out):
            for k in range(n_out):
                for j in range(n_in):
                    box[i, k, j] = (1.0 if i == k else 0.0) * a_prev[j]
        check(f"d{D.of}/d{D.wrt}[i, k, j] = delta_ik a_j (canonical, {D.kind})",
              float(np.max(np.abs(D.dense() - box))), 1e-15)
        num = D.to_layout("numerator")
        claim(f"d{D.of}/d{D.wrt} in numerator layout is N_l x N_l-1 x N_l",
              num.shape == (n_out, n_in, n_out), f"shape {num.shape}")
        # seed 003 indexes this box as [k, j, i]: dz_k / dw_ij = 1_{i=k} a_j
        seed_box = np.array([[[(1.0 if i == k else 0.0) * a_prev[j] for i in range(n_out)]
                              for j in range(n_in)] for k in range(n_out)])
        check(f"numerator d{D.of}/d{D.wrt}[k, j, i] = 1_(i=k) a_j",
              float(np.max(np.abs(num - seed_box))), 1e-15)
        print(f"    structural zeros of d{D.of}/d{D.wrt}: {D.structural_zero_fraction:.0%}; "
              f"stored as the single factor {D.operands}")
    for D in (dz2_db2, dz1_db1):
        check(f"d{D.of}/d{D.wrt} = I (no factor at all: {D.structure})",
              float(np.max(np.abs(D.dense() - np.eye(D.shape[0])))), 1e-15)

    # -------------------------------------------------------------- chaining by hand
    print("\nChaining by hand (outermost first):")
    delta2 = tc.chain(dC_da2, da2_dz2)
    delta1 = tc.chain(delta2, dz2_da1, da1_dz1)
    grads = {
        "W2": tc.chain(dC_da2, da2_dz2, dz2_dW2),
        "b2": tc.chain(dC_da2, da2_dz2, dz2_db2),
        "W1": tc.chain(dC_da2, da2_dz2, dz2_da1, da1_dz1, dz1_dW1),
        "b1": tc.chain(dC_da2, da2_dz2, dz2_da1, da1_dz1, dz1_db1),
    }
    for name, G in grads.items():
        print(f"  dC/d{name}: {G.kind}, canonical {G.shape}, numerator "
              f"{G.to_layout('numerator').shape}, einsum '{G.spec}' over "
              f"{[op[0] for op in G.operands]}")
    for name in ("W1", "W2"):
        W, G = net.params[name], grads[name]
        claim(f"dC/d{name} in numerator layout has the shape of {name} transposed",
              G.to_layout("numerator").shape == W.T.shape,
              f"{G.to_layout('numerator').shape} vs W.T {W.T.shape}")

    # seed 003's matrix form: delta rows, delta^l = delta^{l+1} W^{l+1} diag(sigma'(z^l)),
    # and dC/dW^l (shape of W^l transposed) = a^{l-1} (outer) delta^l
    s1, s2 = tc.sigmoid(z1) * (1 - tc.sigmoid(z1)), tc.sigmoid(z2) * (1 - tc.sigmoid(z2))
    row2 = (2 * (a2 - y))[None, :] @ np.diag(s2)
    row1 = row2 @ W2 @ np.diag(s1)
    check("delta^2 = dC/da^2 diag(sigma'(z^2))", float(np.max(np.abs(delta2.dense() - row2[0]))),
          1e-12)
    check("delta^1 = delta^2 W^2 diag(sigma'(z^1))",
          float(np.max(np.abs(delta1.dense() - row1[0]))), 1e-12)
    for name, a_prev, row in (("W2", a1, row2), ("W1", a0, row1)):
        check(f"numerator dC/d{name} = a^(l-1) (outer) delta^l",
              float(np.max(np.abs(grads[name].to_layout("numerator") - np.outer(a_prev, row)))),
              1e-12)

    # -------------------------------------------------------------- against tc.backprop
    print("\nAgainst tc.backprop:")
    for method, tol in (("full", 1e-12), ("shortcut", 1e-12), ("numeric", 1e-6)):
        result = tc.backprop(net, x, y, method=method)
        for name, G in grads.items():
            check(f"{method:>8} dC/d{name}", float(np.max(np.abs(G.dense()
                                                                  - result[name].dense()))), tol)

    return checks.finish("seed 003: every typed derivative and every chain agrees")


if __name__ == "__main__":
    sys.exit(main())
