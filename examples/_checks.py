"""Bookkeeping shared by the example scripts: print each check, collect failures, exit code."""

import numpy as np

import tensorcalc as tc


class Checks:
    """Collects the outcome of every check an example makes."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, what: str, err: float, tol: float) -> None:
        """A numerical claim: ``err`` (a max absolute difference) must stay below ``tol``."""
        status = "ok" if err < tol else "MISMATCH"
        print(f"  [{status:>8}] {what}: max |difference| = {err:.1e} (tolerance {tol:.0e})")
        if err >= tol:
            self.failures.append(f"{what}: {err:.3e} >= {tol:.0e}")

    def claim(self, what: str, holds: bool, detail: str = "") -> None:
        """A yes/no claim."""
        print(f"  [{'ok' if holds else 'MISMATCH':>8}] {what}" + (f" ({detail})" if detail else ""))
        if not holds:
            self.failures.append(f"{what}: {detail}" if detail else what)

    def methods_agree(self, net, x, y, reference: dict, methods, label: str = "full") -> None:
        """Each backprop method's gradients against ``reference`` (name -> array)."""
        for method, tol in methods:
            other = tc.backprop(net, x, y, method=method)
            for name, ref in reference.items():
                self.check(f"{label} vs {method:<8} dC/d{name}",
                           float(np.max(np.abs(ref - other[name].dense()))), tol)

    def finish(self, message: str) -> int:
        """Print the verdict; the exit status is 1 if any check failed."""
        if self.failures:
            print(f"\nMISMATCH in {len(self.failures)} check(s):")
            for f in self.failures:
                print("  " + f)
            return 1
        print(f"\n{message}; all checks passed")
        return 0
