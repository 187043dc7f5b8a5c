"""Regenerate the pictures shown in the README: python examples/make_readme_figures.py [DIR]."""

import sys
from pathlib import Path

import numpy as np

import tensorcalc as tc


def main(out_dir: str = "docs/img") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    W = np.random.default_rng(0).normal(size=(4, 3))
    a = np.array([1.0, -2.0, 3.0])
    names = {"W": "W^1", "a": "a^0", "out": "z^1"}
    same = {"metadata": {"Software": None}}  # no version stamp: a rerun writes the same bytes
    tc.plot(tc.linear.derivative(W, a, wrt="W", names=names)).savefig(out / "dz_dW.png", dpi=90,
                                                                      **same)
    net = tc.Network.random([3, 4, 2], seed=0)
    steps = tc.explain(net, np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0]), "W1").steps
    tc.plot_chain(steps).savefig(out / "chain_W1.png", dpi=70, **same)
    print(f"wrote {out / 'dz_dW.png'} and {out / 'chain_W1.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
