"""The ``tensorcalc`` command: check that every backprop method agrees, or explain a gradient."""

from __future__ import annotations

import argparse
import difflib
import re
import sys

import numpy as np

from . import __version__
from .backprop import METHODS
from .compare import compare
from .errors import TensorcalcError
from .handout import handout
from .layers import ACTIVATIONS, LOSSES, Loss, grammar
from .network import OUTPUTS, Network
from .network.template import dense_stack
from .notation import explain

DEFAULT_OUTPUT = {"squared_error": "sigmoid", "cross_entropy": "softmax", "nll": "identity",
                  "binary_cross_entropy": "sigmoid", "hinge": "identity"}
#: Above this many parameters ``check`` leaves out the numeric method unless it is asked for
#: (central differences need two forward passes per parameter).
NUMERIC_MAX_PARAMS = 20_000
#: The one-line grammar of ``--layers``, as ``--help`` prints it.
GRAMMAR = grammar.__doc__.split("\n", 2)[2].replace("``", "'")


def _sizes(values: list[str]) -> list[int]:
    """``--sizes 5 7 3`` or ``--sizes 5,7,3``."""
    try:
        return [int(v) for value in values for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes whole numbers, e.g. 5 7 3 or 5,7,3; "
                                         f"got {' '.join(values)}") from None


def _network_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network (default: the 3-4-2 sigmoid network with squared error)")
    g.add_argument("--sizes", nargs="+", default=["3", "4", "2"], metavar="N",
                   help="layer widths of a dense network, input first: 3 4 2 or 3,4,2 "
                        "(default: 3 4 2)")
    g.add_argument("--layers", metavar="SPEC",
                   help="any stack in the one-line grammar below, e.g. 'dense 16, relu, "
                        "batchnorm, dense 10, softmax' (replaces --sizes, --hidden, --output, "
                        "--no-bias; default: none)")
    g.add_argument("--input", type=int, nargs="+", metavar="N",
                   help="input shape of one sample for --layers (default: 3)")
    g.add_argument("--hidden", default="sigmoid", choices=list(ACTIVATIONS),
                   help="hidden activation of --sizes (default: sigmoid)")
    g.add_argument("--output", default=None, choices=list(OUTPUTS),
                   help="output activation of --sizes (default: sigmoid for squared_error and "
                        "binary_cross_entropy, softmax for cross_entropy, identity for nll and "
                        "hinge)")
    g.add_argument("--loss", default="squared_error", choices=list(LOSSES),
                   help="loss (default: squared_error)")
    g.add_argument("--scale", type=float, default=1.0,
                   help="multiply the loss, e.g. 0.5 for the 1/2 squared error (default: 1)")
    g.add_argument("--reduction", default="mean", choices=["mean", "sum"],
                   help="average or sum the loss over a batch (default: mean)")
    g.add_argument("--weight-decay", type=float, default=0.0, metavar="C",
                   help="add C times the sum of squared weights to the loss (default: 0)")
    g.add_argument("--no-bias", action="store_true", help="layers without biases (default: "
                                                          "with biases)")
    g.add_argument("--batch", type=int, default=0, metavar="N",
                   help="batch size; 0 means one sample as a vector (default: 0)")
    g.add_argument("--seed", type=int, default=0, help="random seed for weights and data "
                                                       "(default: 0)")
    g.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                   help="float type (default: float64)")


class _Parser(argparse.ArgumentParser):
    """Argument errors that suggest the option meant (``--sise`` -> ``--sizes``)."""

    def error(self, message: str):
        unknown = re.findall(r"(--?[\w-]+)", message.split(":", 1)[-1]) if (
            "unrecognized arguments" in message) else []
        known = [o for a in self._actions for o in a.option_strings]
        for sub in (a for a in self._actions if isinstance(a, argparse._SubParsersAction)):
            known += [o for p in sub.choices.values() for a in p._actions
                      for o in a.option_strings]
        hints = [f"{u} -> did you mean {close[0]}?" for u in unknown
                 if (close := difflib.get_close_matches(u, set(known), n=1, cutoff=0.6))]
        super().error(message + "".join(f"\n  {h}" for h in hints))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tensorcalc",
        description="Backpropagation as an explicit tensor chain rule: compare the full-tensor "
                    "chain with the shortcut and finite differences, or explain the chain for "
                    "one parameter.",
    )
    parser.add_argument("--version", action="version", version=f"tensorcalc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    epilog = "one-line layer grammar (--layers):\n" + GRAMMAR
    check = sub.add_parser("check", help="compare full, dense, shortcut and numeric backprop; "
                                         "exit 1 if any method disagrees", epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--methods", default=None, metavar="LIST",
                       help="comma-separated methods to compare with full, from "
                            f"{','.join(METHODS)} (default: all; numeric is left out above "
                            f"{NUMERIC_MAX_PARAMS:,} parameters unless listed)")
    _network_options(check)
    ex = sub.add_parser("explain", help="print the chain rule for one parameter, step by step",
                        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("--param", default="W1", help="parameter name, e.g. W1, b2 or gamma2 "
                                                  "(default: W1)")
    ex.add_argument("--plot", metavar="PNG", help="also write heatmaps of every step to PNG "
                                                  "(needs matplotlib: the plot extra; default: "
                                                  "no plot)")
    ex.add_argument("--html", metavar="FILE", help="also write the derivation as one "
                                                   "self-contained HTML page, formulas typeset "
                                                   "and heatmaps embedded (default: none)")
    _network_options(ex)
    return parser


def _network(args: argparse.Namespace) -> Network:
    loss = Loss(args.loss, scale=args.scale, reduction=args.reduction)
    options = dict(loss=loss, seed=args.seed, dtype=np.dtype(args.dtype),
                   weight_decay=args.weight_decay)
    if args.layers:
        if "batchnorm" in args.layers and args.batch < 2:
            raise TensorcalcError("batch norm normalises over a batch: add --batch 2 or more.")
        return Network.stack(args.layers, input_shape=tuple(args.input or [3]), **options)
    output = args.output or DEFAULT_OUTPUT[args.loss]
    layers, input_shape = dense_stack(_sizes(args.sizes), args.hidden, output,
                                      not args.no_bias)
    return Network.stack(layers, input_shape=input_shape, **options)


def _target(rng, loss: str, lead: tuple, n_out: int, dtype: str):
    if loss in ("squared_error", "binary_cross_entropy"):
        return rng.uniform(size=lead + (n_out,)).astype(dtype)
    if loss == "hinge" and n_out == 1:
        return rng.choice([-1.0, 1.0], size=lead).astype(dtype) if lead else 1.0
    return rng.integers(0, n_out, size=lead) if lead else int(rng.integers(0, n_out))


def problem(args: argparse.Namespace):
    """The network and a fixed random sample (x, y) that the options describe."""
    net = _network(args)
    if args.batch < 0:
        raise TensorcalcError(f"--batch must be >= 0, got {args.batch}.")
    rng = np.random.default_rng(args.seed + 1)
    lead = (args.batch,) if args.batch else ()
    x = rng.normal(size=lead + net.input_shape).astype(args.dtype)
    n_out = net(x).shape[-1]
    return net, x, _target(rng, args.loss, lead, n_out, args.dtype)


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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _sizes(args.sizes)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    try:
        net, x, y = problem(args)
        if args.command == "check":
            report = compare(net, x, y, methods=_methods(args, net), numeric_limit=None)
            print(report)
            return 0 if report.ok else 1
        explanation = explain(net, x, y, args.param)
        print(explanation)
        status = _write_plot(explanation, args.plot) if args.plot else 0
        return status or (_write_html(explanation, net, args.html) if args.html else 0)
    except TensorcalcError as err:
        print(f"tensorcalc: error: {err}", file=sys.stderr)
        return 2


def _write_plot(explanation, path: str) -> int:
    """Draw and render in memory first, so that only a failure to write ``path`` (its folder,
    its permissions, a format matplotlib cannot write) is reported as one."""
    import io
    import os

    fmt = os.path.splitext(path)[1][1:].lower() or "png"
    try:
        from .plot import plot_chain

        figure = plot_chain(explanation)
        if fmt not in figure.canvas.get_supported_filetypes():
            print(f"tensorcalc: error: could not write {path!r}: matplotlib cannot write "
                  f"{fmt!r} files (use .png, .pdf or .svg)", file=sys.stderr)
            return 2
        image = io.BytesIO()
        figure.savefig(image, format=fmt, dpi=110)
    except (ImportError, ValueError, MemoryError) as err:
        print(f"tensorcalc: error: could not draw the chain: {err}", file=sys.stderr)
        return 2
    try:
        with open(path, "wb") as f:
            f.write(image.getvalue())
    except OSError as err:
        print(f"tensorcalc: error: could not write {path!r}: {err}", file=sys.stderr)
        return 2
    print(f"\nwrote {path}")
    return 0


def _write_html(explanation, net, path: str) -> int:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(handout(explanation, net))
    except OSError as err:
        print(f"tensorcalc: error: could not write {path!r}: {err}", file=sys.stderr)
        return 2
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
