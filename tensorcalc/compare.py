"""All backprop methods side by side: differences against ``full``, tolerances, costs.

Exact methods (``dense``, ``shortcut``) must match ``full`` to rounding: a max absolute
difference within ``EXACT_RTOL`` times the largest gradient entry (plus a tiny floor). The
``numeric`` method must match within the finite-difference tolerances of :mod:`tensorcalc.numeric`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backprop import METHODS, Gradients, backprop
from .errors import MemoryLimitError, UnknownNameError
from .kinks import kinks
from .network import Network
from .numeric import compare_arrays, default_step, noise_floor

#: Relative tolerance of exact methods against ``full``, by dtype.
EXACT_RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


@dataclass(frozen=True)
class Row:
    """One parameter: its kind and shape, and each method's difference from ``full``."""

    name: str
    kind: str
    shape: tuple[int, ...]
    max_abs: dict[str, float]
    max_rel: dict[str, float]
    ok: dict[str, bool]


@dataclass
class Report:
    """The comparison of :func:`compare`; ``print(report)`` shows it as a table."""

    network: str
    samples: int
    dtype: str
    loss: float
    rows: list[Row]
    results: dict[str, Gradients]
    refused: dict[str, str] = field(default_factory=dict)
    #: What lies within the finite-difference step of a kink (where numeric may differ).
    kinks: list[str] = field(default_factory=list)

    def _excused(self, method: str) -> bool:
        return method == "numeric" and bool(self.kinks)

    @property
    def ok(self) -> bool:
        """True when every method that ran agrees with ``full`` on every parameter (numeric
        is excused where an input sits at a kink: see :attr:`kinks`)."""
        return all(ok or self._excused(m) for r in self.rows for m, ok in r.ok.items())

    @property
    def methods(self) -> list[str]:
        return [m for m in self.results if m != "full"]

    def __str__(self) -> str:
        head = ["param", "kind", "shape"] + [f"{m} vs full" for m in self.methods] + ["ok"]
        body = []
        for r in self.rows:
            cells = [f"{r.max_rel[m]:.1e}" + ("" if r.ok[m] else " kink" if self._excused(m)
                                               else " !") for m in self.methods]
            row_ok = all(ok or self._excused(m) for m, ok in r.ok.items())
            body.append([r.name, r.kind, str(r.shape)] + cells + ["yes" if row_ok else "NO"])
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [
            f"{self.network}",
            f"{self.samples} sample{'s' if self.samples > 1 else ''}, {self.dtype}, "
            f"loss C = {self.loss:.6g}",
            "",
            "max relative difference of each method from the full tensor chain rule:",
            fmt.format(*head),
            fmt.format(*("-" * w for w in widths)),
        ] + [fmt.format(*row) for row in body]
        lines += ["", f"{'method':<9} {'time':>10}  largest tensor built"]
        for m, g in self.results.items():
            lines.append(f"{m:<9} {g.seconds * 1e3:>7.2f} ms  {g.largest_bytes:,} B")
        for m, why in self.refused.items():
            lines.append(f"{m:<9} {'refused':>10}  {why}")
        lines.append("(one call each; full is timed on a repeated call, which replays the "
                     "chain its first call traced)")
        rtol = EXACT_RTOL[np.dtype(self.dtype)]
        lines += ["", f"tolerance: exact methods {rtol:g} relative; numeric: see "
                      f"tensorcalc.numeric.TOLERANCES",
                  "all methods agree" if self.ok else "MISMATCH: some method disagrees (!)"]
        if self.kinks and any(not r.ok.get("numeric", True) for r in self.rows):
            lines.insert(-1, "numeric differs at a kink: " + "; ".join(self.kinks))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _report_html(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


def _report_html(report: Report) -> str:
    from .core.html import html_escape

    head = "".join(f"<th>{h}</th>" for h in
                   ["param", "kind", "shape"] + [f"{m} vs full" for m in report.methods] + ["ok"])
    rows = []
    for r in report.rows:
        cells = [r.name, r.kind, str(r.shape)] + [f"{r.max_rel[m]:.1e}" for m in report.methods]
        cells.append("yes" if all(r.ok.values()) else "<b>NO</b>")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    costs = "".join(f"<tr><td>{m}</td><td>{g.seconds * 1e3:.2f} ms</td>"
                    f"<td>{g.largest_bytes:,} B</td></tr>" for m, g in report.results.items())
    verdict = "all methods agree" if report.ok else "<b>MISMATCH</b>"
    return (f"<div><code>{html_escape(report.network)}</code>, {report.samples} sample(s), "
            f"{report.dtype}, loss C = {report.loss:.6g}<table><tr>{head}</tr>{''.join(rows)}"
            f"</table><table><tr><th>method</th><th>time</th><th>largest tensor</th></tr>"
            f"{costs}</table>{verdict}</div>")


def _row(name: str, results: dict[str, Gradients], dtype, param: np.ndarray, loss: float,
         overall: float) -> Row:
    """One parameter's differences. An exact method is judged relative to this gradient's
    largest entry, with a floor of 1/100 of the tolerance times the largest entry of any
    gradient (``overall``): a gradient that is zero in exact arithmetic (a bias before batch
    norm) holds only rounding noise, which no relative test can judge."""
    full = results["full"][name]
    ref = full.dense()
    scale = float(np.max(np.abs(ref), initial=0.0))
    max_abs, max_rel, ok = {}, {}, {}
    for m, g in results.items():
        if m == "full":
            continue
        value = g[name].dense()
        diff = float(np.max(np.abs(value - ref), initial=0.0))
        max_abs[m], max_rel[m] = diff, diff / scale if scale > 0 else diff
        if m == "numeric":
            step = default_step(dtype) * max(1.0, float(np.max(np.abs(param), initial=0.0)))
            ok[m] = compare_arrays(ref, value, dtype, floor=noise_floor(abs(loss), dtype, step))[0]
        else:
            rtol = EXACT_RTOL[np.dtype(dtype)]
            ok[m] = diff <= rtol * scale + 1e-2 * rtol * overall + 1e3 * np.finfo(dtype).tiny
    return Row(name, full.kind, full.shape, max_abs, max_rel, ok)


#: Above this many parameters ``compare`` leaves the numeric method out (two forward passes
#: per parameter) unless ``numeric_limit`` says otherwise.
NUMERIC_LIMIT = 20_000


def compare(net: Network, x, y, methods=METHODS, *, numeric_limit: int | None = NUMERIC_LIMIT,
            kink_margin: float | None = None) -> Report:
    """Run every backprop method and compare each with ``full``.

    A method refused for memory (``dense`` on a large network) is listed as refused and does not
    count against ``ok``; so is ``numeric`` above ``numeric_limit`` parameters (None: no
    limit). Where an input lies within ``kink_margin`` of a kink (ReLU at 0, a max-pooling tie,
    a hinge margin of 0; by default ten finite-difference steps of the dtype), a numeric
    mismatch is reported as such and not counted.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> report = tc.compare(net, np.array([0.5, -0.2, 0.1]), np.array([1.0, 0.0]))
    >>> report.ok
    True
    """
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UnknownNameError(f"unknown method(s) {unknown}; valid methods are {list(METHODS)}.")
    if not [m for m in methods if m != "full"]:
        raise UnknownNameError(f"compare needs at least one method besides 'full' to compare "
                               f"with it; choose from {list(METHODS[1:])}.")
    backprop(net, x, y, "full")  # the first call for a structure traces; time a replay
    results, refused = {"full": backprop(net, x, y, "full")}, {}
    count = sum(v.size for v in net.params.values())
    for m in methods:
        if m == "full":
            continue
        if m == "numeric" and numeric_limit is not None and count > numeric_limit:
            refused[m] = (f"{count:,} parameters is above numeric_limit={numeric_limit:,} "
                          f"(two forward passes each); pass numeric_limit=None to run it")
            continue
        try:
            results[m] = backprop(net, x, y, m)
        except MemoryLimitError as err:
            refused[m] = str(err).split(". ")[0]
    xs = net.check_input(x)
    samples = xs.shape[0] if xs.ndim > len(net.input_shape) else 1
    loss = results["full"].loss
    overall = max(float(np.max(np.abs(g.dense()), initial=0.0)) for g in results["full"].values())
    rows = [_row(name, results, net.dtype, value, loss, overall)
            for name, value in net.params.items()]
    margin = 10 * default_step(net.dtype) if kink_margin is None else kink_margin
    found = kinks(net.forward(x), net.loss_fn.name, net.loss_fn.targets(net(x), y), margin)
    return Report(repr(net), samples, str(net.dtype), results["full"].loss, rows, results, refused,
                  found)
