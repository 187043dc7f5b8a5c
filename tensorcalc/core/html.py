"""HTML for notebooks: small tensors as nested matrices, large ones summarised."""

from __future__ import annotations

from .render import percent

#: Tensors with at most this many entries are shown in full in notebooks; larger ones summarised.
HTML_MAX_ENTRIES = 400


def _cell(v: float) -> str:
    return f"<td style='text-align:right'>{v:.4g}</td>"


def html_array(arr, max_entries: int = HTML_MAX_ENTRIES) -> str:
    """A small array as (nested) HTML matrices; a large one as a one-line summary."""
    import numpy as np

    arr = np.asarray(arr)
    if arr.size > max_entries:
        return (f"<i>{arr.shape} tensor, {arr.size:,} entries (not shown; min {arr.min():.4g}, "
                f"max {arr.max():.4g})</i>")
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim == 2:
        rows = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in arr)
        return f"<table style='border-left:1px solid;border-right:1px solid'>{rows}</table>"
    cells = "".join(f"<td>{html_array(sub, max_entries)}</td>" for sub in arr)
    return f"<table><tr>{cells}</tr></table>"


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def html_math(latex: str) -> str:
    """Display math for a notebook or a page that loads MathJax (``$$ ... $$``, which Jupyter
    typesets in HTML output; the source reads as it is where nothing typesets it)."""
    return f'<div class="tc-math">$${html_escape(latex)}$$</div>'


def derivative_html(d) -> str:
    """A derivative for a notebook: kind and shapes, its entry formula, and its values when
    small (nested matrices in canonical layout) or its size when not."""
    head = html_escape(f"{d.kind} {d.name}: out {d.out_shape}, in {d.in_shape}, "
                       f"{d.structure} ({percent(d.structural_zero_fraction)} structural zeros)")
    if d.nbytes_dense <= 8 * HTML_MAX_ENTRIES:
        body = html_array(d.dense())
    else:
        body = f"<i>{d.nbytes_dense:,} bytes when dense; not shown (call .dense() or tc.plot)</i>"
    return (f"<div><b>{head}</b>{html_math(d.latex())}"
            f"<code>{html_escape(d.index_notation())}</code><br>{body}</div>")


def html_table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html_escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html_escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"
