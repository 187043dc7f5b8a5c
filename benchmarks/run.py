"""Benchmark tensorcalc's backprop methods and Jacobians against torch, jax and HIPS autograd.

Run ``python benchmarks/run.py`` (``--quick`` for a smoke run). Every time is the median of
repeated ``time.perf_counter`` runs after one warm-up; ratios divide medians of the same run.
Peak memory is the tracemalloc peak of one separate, untimed call (numpy-based methods only).
See benchmarks/README.md for what each case and column means.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from functools import partial
from importlib import metadata
from types import SimpleNamespace

import numpy as np
from coursework import check_layer_cases, embedding_cases
from peers import PEER_GRAD, PEER_JAC, load_peers, peer_grad, peer_jacobian
from second import second_order_cases
from stacks import lenet_jacobian_case, stack_cases
from targets import BATCHES, MLPS, print_targets, targets

import tensorcalc as tc

NUMERIC_SIZES = ([3, 4, 2],)  # central differences on every weight: only the tiny network
QUICK_DENSE_LIMIT = 64 << 20  # --quick: dense refuses above 64 MiB (skips the 2 s cases)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ----------------------------------------------------------------------------- measuring
def measure(fn, cfg) -> tuple[float, int]:
    """Median seconds of ``fn()`` after one warm-up (which also compiles jit): ``cfg.repeats``
    runs if given, else runs until ``cfg.budget`` seconds have passed (at least ``min_runs``,
    at most ``max_runs``), so tiny cases get many runs and slow ones few. gc paused."""
    fn()
    times: list[float] = []
    deadline = time.perf_counter() + cfg.budget
    gc.disable()
    while len(times) < (cfg.repeats or cfg.max_runs) and (
            cfg.repeats or len(times) < cfg.min_runs or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    gc.enable()
    return statistics.median(times), len(times)


def traced_peak(fn) -> int:
    """Peak bytes tracemalloc sees during one call (numpy buffers included) above the bytes
    already traced when the call starts."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def as_array(result) -> np.ndarray:
    """The first parameter's gradient (W1, or K1 of a CNN) or the Jacobian of any method's
    result, as a numpy array."""
    if isinstance(result, tc.Gradients):
        return result[next(iter(result))].dense()
    result = result[next(iter(result))] if isinstance(result, dict) else result
    return np.asarray(result.detach() if hasattr(result, "detach") else result)


def run_case(name: str, fns: dict, baseline: str, cfg, traced: set, ref: np.ndarray) -> dict:
    """Time every method of one case, compare its answer with ``ref`` and take the tracemalloc
    peak of the ``traced`` methods; ratios are medians over the ``baseline`` median."""
    rows = {}
    for method, fn in fns.items():
        row = rows[method] = {"method": method, "median_s": None, "runs": 0, "peak_bytes": None,
                              "max_rel_diff": None, "note": ""}
        try:
            out = as_array(fn())
        except tc.MemoryLimitError as e:  # dense refuses before allocating: a cheap pre-check
            need = re.search(r"needs ([\d,]+) bytes", str(e))
            row["note"] = (f"refused (needs {need.group(1) if need else '?'} bytes, "
                           f"limit {tc.get_dense_limit():,})")
            continue
        if ref is not None and np.shape(out) == np.shape(ref):
            row["max_rel_diff"] = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
        row["median_s"], row["runs"] = measure(fn, cfg)
        row["peak_bytes"] = traced_peak(fn) if method in traced else None
    base = rows[baseline]["median_s"] if baseline in rows else None
    for row in rows.values():
        row["ratio"] = row["median_s"] / base if row["median_s"] and base else None
    case = {"case": name, "baseline": baseline, "results": list(rows.values())}
    print(f"\n### {name}\n" + "\n".join(markdown_table([case]).splitlines()[2:]), flush=True)
    return case


# ----------------------------------------------------------------------------- cases
def mlp_case(sizes, batch: int):
    """The sigmoid/softmax/cross-entropy network, a fixed input, class indices and one-hot."""
    net = tc.Network.random(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy",
                            seed=0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(sizes[0],) if batch == 1 else (batch, sizes[0]))
    y = rng.integers(sizes[-1], size=x.shape[:-1])
    return net, x, (int(y) if batch == 1 else y), np.eye(sizes[-1])[y]


def backprop_cases(ops: dict, cfg) -> list[dict]:
    """Every MLP at batch 1 and 64: our methods, then the installed peers."""
    cases = []
    for sizes in MLPS:
        for batch in BATCHES:
            net, x, y, onehot = mlp_case(sizes, batch)
            methods = ("full", "shortcut", "dense") + ("numeric",) * (sizes in NUMERIC_SIZES)
            fns = {m: partial(tc.backprop, net, x, y, method=m) for m in methods}
            fns.update({PEER_GRAD[k]: peer_grad(k, o, net, x, onehot) for k, o in ops.items()})
            ref = as_array(tc.backprop(net, x, y, method="shortcut"))
            traced = {*methods, "autograd"}
            cases.append(run_case(f"MLP {sizes} batch {batch}", fns, "shortcut", cfg, traced, ref))
    return cases


def jacobian_cases(ops: dict, cfg) -> list[dict]:
    """Full Jacobians of the logits of the biggest MLP, one sample, w.r.t. x and W1."""
    cases, (net, x, _, _) = [], mlp_case(MLPS[-1], 1)
    baseline = "jax.jacrev jit" if "jax" in ops else "torch.func.jacrev"
    for wrt in ("x", "W1"):
        fns = {"full": lambda wrt=wrt: tc.jacobian(net, x, wrt=wrt, of="logits").dense()}
        fns.update({PEER_JAC[k]: peer_jacobian(k, o, net, x, wrt) for k, o in ops.items()
                    if k in PEER_JAC})
        name = f"Jacobian d logits / d {wrt}, {MLPS[-1]} 1 sample"
        cases.append(run_case(name, fns, baseline, cfg, {"full"}, fns["full"]()))
    return cases


# ----------------------------------------------------------------------------- reporting
def fmt_time(s: float | None) -> str:
    units = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))
    return "-" if s is None else next(f"{s / k:.3g} {u}" for u, k in units if s >= k or u == "ns")


def fmt_bytes(n: int | None) -> str:
    units = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1))
    return "n/a" if n is None else next(f"{n / k:.3g} {u}" for u, k in units if n >= k or k == 1)


def markdown_table(cases: list[dict]) -> str:
    """One row per (case, method): median, ratio to the case's baseline, peak, runs, check."""
    lines = ["| case | method | median | ratio | peak memory | runs | max rel diff |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for c in cases:
        for r in c["results"]:
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x {c['baseline']}"
            diff = "-" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.0e}"
            lines.append(f"| {c['case']} | {r['method']} | {r['note'] or fmt_time(r['median_s'])}"
                         f" | {ratio} | {fmt_bytes(r['peak_bytes'])} | {r['runs']} | {diff} |")
    return "\n".join(lines)


def machine_info(ops: dict, skipped: dict, threads: int) -> dict:
    """Platform, CPU, thread settings, library versions and the date of the run."""
    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       cpu)
    versions = {k: metadata.version(k) for k in ops} | skipped
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "threads": threads or "library defaults", "python": platform.python_version(),
            "numpy": np.__version__, **versions, "tensorcalc": f"{tc.__version__}, {git_state()}",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


def git_state() -> str:
    """The commit of this checkout, marked when tensorcalc/ has uncommitted edits."""
    def git(*args: str) -> str:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, *args], capture_output=True,
                              text=True).stdout.strip()
    try:
        commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain",
                                                                 "--", "../tensorcalc")
    except OSError:
        return "commit unknown"
    return f"commit {commit or '?'}" + (" + uncommitted edits in tensorcalc/" if dirty else "")


def pin_threads(threads: int) -> None:
    """Size every thread pool (OpenBLAS, MKL/OpenMP, XLA) by re-running this script with the
    environment set, since the pools read it once, at import."""
    if threads and os.environ.get("TC_BENCH_THREADS") != str(threads):
        os.environ.update(dict.fromkeys(THREAD_VARS, str(threads)), TC_BENCH_THREADS=str(threads))
        if threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                       " --xla_cpu_multi_thread_eigen=false").strip()
        os.execv(sys.executable, [sys.executable, *sys.argv])


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: few repeats")
    ap.add_argument("--repeats", type=int, default=None, help="fixed timed runs per method")
    ap.add_argument("--out", default="benchmarks/results.json", help="JSON results file")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per library (default 1; 0 keeps the libraries' defaults)")
    args = ap.parse_args(argv)
    pin_threads(args.threads)
    cfg = SimpleNamespace(repeats=args.repeats, budget=0.05 if args.quick else 2.0,
                          min_runs=1 if args.quick else 3, max_runs=10 if args.quick else 2000)
    started, (ops, skipped) = time.perf_counter(), load_peers()
    info = machine_info(ops, skipped, args.threads)
    print("# tensorcalc benchmarks\n\n" + "\n".join(f"- {k}: {v}" for k, v in info.items()))
    dense_limit = QUICK_DENSE_LIMIT if args.quick else tc.get_dense_limit()
    old_limit = tc.set_dense_limit(dense_limit)
    try:
        cases = (backprop_cases(ops, cfg) + stack_cases(ops, cfg, run_case, as_array)
                 + jacobian_cases(ops, cfg) + lenet_jacobian_case(ops, cfg, run_case)
                 + embedding_cases(ops, cfg, run_case, as_array)
                 + check_layer_cases(ops, cfg, run_case, as_array)
                 + second_order_cases(ops, cfg, run_case))
    finally:
        tc.set_dense_limit(old_limit)
    checks = targets(cases)
    print_targets(checks)
    print("\n## Results\n\n" + markdown_table(cases))
    print("".join(f"\nskipped: {note}" for note in skipped.values()))
    seconds = time.perf_counter() - started
    print(f"\ntotal {seconds:.0f} s; results written to {args.out}")
    with open(args.out, "w") as f:
        json.dump({"machine": info, "settings": {**vars(cfg), "quick": args.quick,
                                                 "dense_limit": dense_limit},
                   "skipped": skipped, "cases": cases, "targets": checks, "seconds": seconds},
                  f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
