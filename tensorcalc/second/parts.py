"""The parts of a Hessian block, shown: each part's entry formula in index notation (and as
LaTeX), and the block as their sum."""

from __future__ import annotations

from collections.abc import Mapping

from ..core.derivative import Derivative


def sum_parts(parts: Mapping[str, Derivative]) -> Derivative:
    """The sum of the parts of a block (at least one)."""
    items = list(parts.values())
    total = items[0]
    for d in items[1:]:
        total = total + d
    return total


class HessianParts(dict):
    """Part name -> :class:`~tensorcalc.Derivative` for one Hessian block; ``str()`` lists
    each part's index notation, :meth:`latex` the whole sum as a LaTeX ``align`` block,
    :meth:`total` the block."""

    def __init__(self, parts: dict, of: str, wrt: str) -> None:
        super().__init__(parts)
        self.of, self.wrt = of, wrt

    def total(self) -> Derivative:
        return sum_parts(self)

    def __str__(self) -> str:
        head = (f"d2C/d{self.of[4:]} d{self.wrt} as {len(self)} part"
                f"{'s' if len(self) > 1 else ''}:")
        lines = [head]
        for name, d in self.items():
            lines.append(f"  {name} ({len(d.terms)} term{'s' if len(d.terms) > 1 else ''}):")
            lines.append(f"    {d.index_notation()}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def latex(self) -> str:
        """Every part's entry formula, one line each, in a LaTeX ``align`` block."""
        rows = [rf"&\text{{{name}: }} {d.latex()}" for name, d in self.items()]
        return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"

    def _repr_latex_(self) -> str:
        return self.latex()
