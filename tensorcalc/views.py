"""Plain and rich displays of the result objects: tables for gradients and networks, a step's
formulas typeset in a notebook (LaTeX inside the HTML, which Jupyter's MathJax renders; the
source stays readable where it cannot)."""

from __future__ import annotations

import numpy as np

from .core.derivative import Derivative
from .core.html import html_array, html_escape, html_math, html_table
from .core.render import text_table


# ---------------------------------------------------------------- gradients
def gradient_rows(g) -> list[list[str]]:
    return [[name, d.kind, str(d.shape), f"{float(np.linalg.norm(d.dense())):.6g}"]
            for name, d in g.grads.items()]


GRADIENT_HEAD = ["parameter", "kind", "shape", "norm"]


def gradients_text(g) -> str:
    head = (f"Gradients by {g.method}: loss C = {g.loss:.6g}, {len(g.grads)} gradient"
            f"{'s' if len(g.grads) != 1 else ''}, {g.seconds * 1e3:.2f} ms")
    extra = (f"\n(and intermediates at layers {', '.join(map(str, sorted(g.intermediates)))})"
             if g.intermediates else "")
    return head + "\n" + text_table(GRADIENT_HEAD, gradient_rows(g)) + extra


def gradients_html(g) -> str:
    return (f"<div><b>Gradients by {html_escape(g.method)}</b>: loss C = {g.loss:.6g}"
            f"{html_table(GRADIENT_HEAD, gradient_rows(g))}</div>")


# ---------------------------------------------------------------- steps and checks
def step_html(step) -> str:
    r = step.result
    return (f"<div><b>{html_escape(step.target)}</b> = "
            + " &middot; ".join(html_escape(p.name) + f" <i>({p.kind})</i>"
                                for p in step.parts)
            + f"<br>einsum <code>{html_escape(r.spec)}</code>"
            + html_math(r.latex())
            + f"matrix <code>{html_escape(r.matrix_notation() or '-')}</code>; shortcut "
              f"<code>{html_escape(step.shortcut)}</code><br>result: {html_escape(r.kind)} "
              f"{r.shape}: {html_array(r.contracted().dense())}</div>")


def check_html(report) -> str:
    verdict = "OK" if report.ok else "<b>MISMATCH</b>"
    return (f"<div>{verdict}: d{html_escape(report.of)}/d{html_escape(report.wrt)} "
            f"({html_escape(report.kind)}, shape {report.shape})<br>worst entry: output "
            f"{report.out_index}, input {report.in_index}: {report.claimed} "
            f"{report.analytic:.10g}, {report.reference} {report.numeric:.10g} (abs error "
            f"{report.abs_error:.3g})</div>")


def describe(d: Derivative, letters: list[str] | None = None) -> str:
    """One line: symbol, kind, shapes, structure and factors of a derivative (for a sum, the
    factors of each term, signed); ``letters`` are the factors' labels as a step's einsum
    names them."""
    def listed(factors, names=None) -> str:
        names = names or [f.labels for f in factors]
        return " ".join(f"{f.symbol}[{lab}]" for f, lab in zip(factors, names)) or "(no factor)"

    if len(d.terms) == 1:
        factors = listed(d.factors, letters)
    else:
        factors = " ".join(f"{'-' if t.coef < 0 else '+'}({listed(t.factors)})" for t in d.terms)
    return (f"{d.name}: {d.kind} {d.out_shape} by {d.in_shape}, {d.structure}; "
            f"{factors}")


def step_lines(k: int, step) -> list[str]:
    """The printed form of one chain-rule step."""
    r = step.result
    names = ", ".join(sym for sym, _, _ in r.operands)
    joiner = " + " if step.rule == "sum" else " . "
    lines = [f"step {k}: {step.target} = " + joiner.join(p.name for p in step.parts)]
    lines += [f"    {describe(p, lab)}" for p, lab in zip(step.parts, _step_letters(step))]
    lines += [
        f"  einsum:   {r.spec}   ({names})",
        f"  index:    {r.index_notation()}",
        f"  matrix:   {r.matrix_notation() or '(not a matrix product)'}",
        f"  shortcut: {step.shortcut}",
        f"  result:   {r.kind} of shape {r.shape}",
    ]
    return lines


def _step_letters(step) -> list:
    """Each part's factor labels in the letters of the step's einsum (a chain of single-term
    parts, whose factors the result keeps in order), else None per part."""
    r, parts = step.result, step.parts
    counts = [len(p.factors) if len(p.terms) == 1 else -1 for p in parts]
    ops = r.operands
    if step.rule != "chain" or len(r.terms) != 1 or -1 in counts or sum(counts) != len(ops):
        return [None] * len(parts)
    out, k = [], 0
    for n in counts:
        out.append([labels for _, labels, _ in ops[k:k + n]])
        k += n
    return out
