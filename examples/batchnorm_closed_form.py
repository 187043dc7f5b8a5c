"""Batch norm: the famous closed-form backward is the full chain rule, term by term.

In training mode batch norm normalises each feature over the batch: xhat = (x - mean) / sigma
and y = gamma xhat + beta. Every output then depends on every sample of its feature, so the
Jacobian dy/dx is an (N, D, N, D) tensor. tensorcalc stores it as three terms of O(N D) storage:

    dy_ni/dx_mk = delta_ik (gamma_i / sigma_i) (delta_nm - 1/N - xhat_ni xhat_mi / N)

the identity term, the mean term and the variance term. Chaining the upstream gradient dy with
each term separately gives the three pieces of the closed form that course notes derive,

    dx = (gamma / (N sigma)) (N dy - sum_n dy - xhat sum_n(dy xhat)),

and this script checks each piece, their sum, and every backprop method on a small network.
"""

import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    np.set_printoptions(precision=4, suppress=True)
    net = tc.Network.stack([tc.Dense(4), tc.BatchNorm(), "tanh", tc.Dense(3)],
                           loss="squared_error", input_shape=(3,), seed=3)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    print(net, f"\nbatch of N = {x.shape[0]} samples\n")

    g = tc.backprop(net, x, y, "full")
    steps = {s.target: s for s in g.trace}
    step = steps["delta^1"]  # dC/dz^1 = dC/dy^2 . dy^2/dz^1
    upstream, jac = step.parts
    print(jac)
    print(f"  {jac.index_notation()}\n")

    # -------------------------------------------------------------- the three terms, one by one
    z = net.forward(x).records[1].ctx.x  # the batch norm's input
    gamma, N = net.params["gamma2"], x.shape[0]
    sigma = np.sqrt(z.var(axis=0) + 1e-5)
    xhat = (z - z.mean(axis=0)) / sigma
    dy = upstream.dense()
    closed = [gamma / sigma * dy,
              -gamma / (N * sigma) * dy.sum(axis=0) * np.ones_like(dy),
              -gamma / (N * sigma) * xhat * (dy * xhat).sum(axis=0)]
    names = ["identity term    (gamma/sigma) dy",
             "mean term        -(gamma/(N sigma)) sum_n dy",
             "variance term    -(gamma/(N sigma)) xhat sum_n(dy xhat)"]
    for k, (piece, name) in enumerate(zip(closed, names)):
        chained = tc.chain(upstream, jac.term(k))
        print(f"{name}\n  {chained.index_notation()}")
        checks.check(f"chain with the {name.split()[0]} term", float(
            np.max(np.abs(chained.dense() - piece))), 1e-12)

    dx = gamma / (N * sigma) * (N * dy - dy.sum(0) - xhat * (dy * xhat).sum(0))
    print(f"\ndC/dx of batch norm, the closed form:\n{dx}")
    through = tc.chain(upstream, jac).dense()
    checks.check("closed form == the full chain through all three terms",
                 float(np.max(np.abs(through - dx))), 1e-12)
    checks.claim("the stored Jacobian is three terms, never (N, D, N, D)",
                 len(jac.terms) == 3 and sum(f.array.size for f in jac.factors) < jac.dense().size,
                 f"{sum(f.array.size for f in jac.factors)} stored numbers, "
                 f"{jac.dense().size} when dense")

    # -------------------------------------------------------------- every method agrees
    print()
    reference = {k: v.dense() for k, v in g.items()}
    checks.methods_agree(net, x, y, reference, [("dense", 1e-12), ("shortcut", 1e-12),
                                                ("numeric", 1e-6)])
    return checks.finish("the batch-norm closed form is the full chain rule, term by term")


if __name__ == "__main__":
    sys.exit(main())
