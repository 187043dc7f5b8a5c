"""The targets the issues set: a ratio of two results of one case, each with an upper bound,
checked after a run of ``run.py``."""

from __future__ import annotations

from coursework import coursework_targets
from peers import PEER_JAC
from second import second_order_targets
from stacks import RESIDUAL_DEPTHS

MLPS = ([3, 4, 2], [64, 128, 10], [256, 256, 256, 10], [784, 512, 512, 10])
BATCHES = (1, 64)


def targets(cases: list[dict]) -> list[dict]:
    """The issue's targets: a ratio of two results of one case, with an upper bound each."""
    checks = [("median_s", f"MLP {MLPS[3]} batch 64", "shortcut", 1.2),
              ("median_s", f"MLP {MLPS[2]} batch 64", "shortcut", 1.5)]
    checks += [("median_s", f"MLP {s} batch {b}", "torch backward", 1.0)
               for s in MLPS[:2] for b in BATCHES]
    checks += [("median_s", c["case"], peer, 1.0) for c in cases if "Jacobian" in c["case"]
               for peer in PEER_JAC.values()]
    checks += [("peak_bytes", c["case"], "shortcut", 1.5) for c in cases
               if "MLP" in c["case"]]
    checks += [("median_s", c["case"], "shortcut", 1.3 if "LeNet" in c["case"] else 1.5)
               for c in cases if c["case"].startswith("stack ")]
    checks += [("peak_bytes", c["case"], "shortcut", 1.5) for c in cases
               if c["case"].startswith("stack LeNet")]
    checks = [check + ("full",) for check in checks]
    checks += [("median_s", c["case"], "torch backward", 3.0, "shortcut") for c in cases
               if c["case"].startswith("stack LeNet")]
    rows = {(c["case"], r["method"]): r for c in cases for r in c["results"]}
    out = [depth_target(rows)] + coursework_targets(rows) + second_order_targets(rows)
    for key, case, other, limit, mine in checks:
        a, b = (rows.get((case, m), {}).get(key) for m in (mine, other))
        value = a / b if a is not None and b else None
        status = "skip" if value is None else "pass" if value <= limit else "miss"
        what = "time" if key == "median_s" else "peak memory"
        out.append({"target": f"{what} {mine}/{other}, {case}", "value": value, "limit": limit,
                    "status": status})
    return out


def depth_target(rows: dict) -> dict:
    """Linear in depth: full at the deepest residual stack over full at half that depth."""
    deep, half = RESIDUAL_DEPTHS[-1], RESIDUAL_DEPTHS[-2]
    times = [rows.get((f"stack residual depth {d} (dense 32, tanh) batch 16", "full"), {})
             .get("median_s") for d in (deep, half)]
    value = times[0] / times[1] if all(times) else None
    limit = 2.5 * deep / (2 * half)
    status = "skip" if value is None else "pass" if value <= limit else "miss"
    return {"target": f"time full depth {deep} / depth {half} (linear: about {deep / half:g})",
            "value": value, "limit": limit, "status": status}


def print_targets(results: list[dict]) -> None:
    """One pass/miss line per target, with the ratio and how far it is from the bound."""
    print("\n## Targets\n")
    for t in results:
        if t["value"] is None:
            print(f"SKIP  {t['target']} (a method is missing or was refused)")
            continue
        margin = (t["value"] / t["limit"] - 1) * 100
        print(f"{t['status'].upper():5} {t['target']}: {t['value']:.2f} (target <= {t['limit']}, "
              f"{abs(margin):.0f}% {'over' if margin > 0 else 'under'})")


