"""The ``tensorcalc`` command: check that every backprop method agrees, or explain a gradient."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .backprop import METHODS
from .compare import compare
from .errors import TensorcalcError
from .layers import ACTIVATIONS, LOSSES
from .network import OUTPUTS, Network
from .notation import explain

DEFAULT_OUTPUT = {"squared_error": "sigmoid", "cross_entropy": "softmax", "nll": "identity"}
#: Above this many parameters ``check`` leaves out the numeric method unless it is asked for
#: (central differences need two forward passes per parameter).
NUMERIC_MAX_PARAMS = 20_000


def _network_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network (default: the 3-4-2 sigmoid network with squared error)")
    g.add_argument("--sizes", type=int, nargs="+", default=[3, 4, 2], metavar="N",
                   help="layer widths, input first (default: 3 4 2)")
    g.add_argument("--hidden", default="sigmoid", choices=list(ACTIVATIONS),
                   help="hidden activation (default: sigmoid)")
    g.add_argument("--output", default=None, choices=list(OUTPUTS),
                   help="output activation (default: sigmoid for squared_error, softmax for "
                        "cross_entropy, identity for nll)")
    g.add_argument("--loss", default="squared_error", choices=list(LOSSES),
                   help="loss (default: squared_error)")
    g.add_argument("--no-bias", action="store_true", help="layers without biases")
    g.add_argument("--batch", type=int, default=0, metavar="N",
                   help="batch size; 0 means one sample as a vector (default: 0)")
    g.add_argument("--seed", type=int, default=0, help="random seed for weights and data")
    g.add_argument("--dtype", default="float64", choices=["float64", "float32"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensorcalc",
        description="Backpropagation as an explicit tensor chain rule: compare the full-tensor "
                    "chain with the Hadamard shortcut and finite differences, or explain the "
                    "chain for one parameter.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="compare full, dense, shortcut and numeric backprop; "
                                         "exit 1 if any method disagrees")
    check.add_argument("--methods", default=None, metavar="LIST",
                       help="comma-separated methods to compare with full, from "
                            f"{','.join(METHODS)} (default: all; numeric is left out above "
                            f"{NUMERIC_MAX_PARAMS:,} parameters unless listed)")
    _network_options(check)
    ex = sub.add_parser("explain", help="print the chain rule for one parameter, step by step")
    ex.add_argument("--param", default="W1", help="parameter name, e.g. W1 or b2 (default: W1)")
    ex.add_argument("--plot", metavar="PNG", help="also write heatmaps of every step to PNG "
                                                  "(needs matplotlib: the plot extra)")
    _network_options(ex)
    return parser


def problem(args: argparse.Namespace):
    """The network and a fixed random sample (x, y) that the options describe."""
    output = args.output or DEFAULT_OUTPUT[args.loss]
    net = Network.random(args.sizes, hidden=args.hidden, output=output, loss=args.loss,
                         bias=not args.no_bias, seed=args.seed, dtype=np.dtype(args.dtype))
    if args.batch < 0:
        raise TensorcalcError(f"--batch must be >= 0, got {args.batch}.")
    rng = np.random.default_rng(args.seed + 1)
    lead = (args.batch,) if args.batch else ()
    x = rng.normal(size=lead + (args.sizes[0],)).astype(args.dtype)
    n_out = args.sizes[-1]
    if args.loss == "squared_error":
        y = rng.uniform(size=lead + (n_out,)).astype(args.dtype)
    else:
        y = rng.integers(0, n_out, size=lead) if lead else int(rng.integers(0, n_out))
    return net, x, y


def _methods(args: argparse.Namespace, net: Network) -> tuple[str, ...]:
    if args.methods:
        return tuple(m.strip() for m in args.methods.split(",") if m.strip())
    count = sum(v.size for v in net.params.values())
    if count > NUMERIC_MAX_PARAMS:
        print(f"(numeric left out: {count:,} parameters would take {2 * count:,} forward passes;"
              f" add it with --methods full,dense,shortcut,numeric)\n")
        return tuple(m for m in METHODS if m != "numeric")
    return METHODS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        net, x, y = problem(args)
        if args.command == "check":
            report = compare(net, x, y, methods=_methods(args, net))
            print(report)
            return 0 if report.ok else 1
        explanation = explain(net, x, y, args.param)
        print(explanation)
        return _write_plot(explanation, args.plot) if args.plot else 0
    except TensorcalcError as err:
        print(f"tensorcalc: error: {err}", file=sys.stderr)
        return 2


def _write_plot(explanation, path: str) -> int:
    try:
        from .plot import plot_chain

        plot_chain(explanation).savefig(path, dpi=110)
    except (OSError, ImportError, ValueError) as err:
        print(f"tensorcalc: error: could not write {path!r}: {err}", file=sys.stderr)
        return 2
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
