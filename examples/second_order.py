"""Second order on the 3-4-2 network: the Hessian of the cost by W^1 is a 4 x 3 x 4 x 3 tensor,
and it is the sum of parts that each have a meaning.

    d2C/dW dW = J^T H J                                   (Gauss-Newton: the loss's curvature
                                                           seen through the network's Jacobian)
              + J1^T diag(dC/da^1 (.) sigma''(z^1)) J1    (the hidden layer's own curvature)
              + J2^T diag(dC/da^2 (.) sigma''(z^2)) J2    (the output layer's own curvature)

with J = da^2/dW^1, J1 = dz^1/dW^1 and J2 = dz^2/dW^1. The Gauss-Newton part is positive
semi-definite whenever the loss is convex in the network's output; the curvature parts are what
make the Hessian indefinite. This script prints every part in index notation, checks their sum
against central differences of the gradient and a Hessian-vector product against the block, and
with ``--plot FILE.png`` draws the parts and their sum as heatmaps (needs matplotlib).
"""

import sys

import numpy as np
from _checks import Checks

import tensorcalc as tc


def main() -> int:
    checks = Checks()
    net = tc.Network.random([3, 4, 2], hidden="sigmoid", output="sigmoid",
                            loss="squared_error", seed=0)
    x, y = np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0])
    parts = tc.hessian_parts(net, x, y, "W1")
    print(parts)
    H = tc.hessian(net, x, y, "W1")
    print(f"\n{H.kind} {H.shape}: {len(H.terms)} terms, "
          f"{H.structural_zero_fraction:.0%} structural zeros")
    numeric = tc.hessian(net, x, y, "W1", method="numeric").dense()
    checks.check("the sum of the parts = central differences of the gradient",
                 float(np.abs(parts.total().dense() - numeric).max()), 1e-7)
    gn = parts["Gauss-Newton"].dense().reshape(12, 12)
    checks.claim("the Gauss-Newton part is positive semi-definite",
                 bool(np.linalg.eigvalsh(gn).min() > -1e-12),
                 f"smallest eigenvalue {np.linalg.eigvalsh(gn).min():.2e}")
    v = {"W1": np.arange(12.0).reshape(4, 3) / 10}
    hv = tc.hvp(net, x, y, v)["W1"]
    checks.check("hvp (forward over reverse, no block built) = block @ v",
                 float(np.abs(hv - np.einsum("ijkl,kl->ij", H.dense(), v["W1"])).max()), 1e-12)
    checks.check("diagonal() without the block = the block's diagonal",
                 float(np.abs(H.diagonal().ravel() - np.diag(H.dense().reshape(12, 12))).max()),
                 1e-15)
    whole = tc.hessian(net, x, y)  # every block, built when read; .matrix() in one array
    M = whole.matrix()
    checks.check("the whole Hessian's W1 corner = the W1 block",
                 float(np.abs(M[:12, :12] - H.dense().reshape(12, 12)).max()), 1e-14)
    eig = np.linalg.eigvalsh(M)
    print(f"\nthe whole Hessian, {M.shape[0]} parameters: eigenvalues from {eig.min():.3g} to "
          f"{eig.max():.3g}, {int(np.sum(eig < -1e-12))} negative (the curvature parts)")
    panels = {name: d.dense().reshape(12, 12) for name, d in parts.items()}
    if "--plot" in sys.argv[1:]:
        path = sys.argv[sys.argv.index("--plot") + 1]
        _draw(panels | {"Hessian": H.dense().reshape(12, 12)}, path)
    return checks.finish("the Hessian is its Gauss-Newton part plus the layers' curvature")


def _draw(panels: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no heatmap)")
        return
    scale = max(float(np.abs(a).max()) for a in panels.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for ax, (name, a) in zip(axes, panels.items()):
        im = ax.imshow(a, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(f"{name}\nd2C/dW^1 dW^1, 12 x 12")
        ax.set_xlabel("W^1 index (k, l), row-major")
        ax.set_ylabel("W^1 index (i, j), row-major")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("one colour scale for every panel")
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
