"""A derivation handout: one self-contained HTML page for an explanation, for a teacher to hand
out. The network, then every step with its einsum, index- and matrix-notation lines typeset, the
shortcut it reduces to, and the step's heatmap embedded as an image. It opens in a browser
without a server; offline, where MathJax cannot load, the LaTeX source stays readable."""

from __future__ import annotations

import base64
import io

from .core.html import html_escape, html_math
from .errors import MemoryLimitError
from .network.summary import network_html

MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"
STYLE = """body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}
code{background:#f4f4f4;padding:0 .2em}.step{border-top:1px solid #ccc;padding:.5em 0}
table{border-collapse:collapse}td,th{padding:.1em .6em;text-align:left}
.tc-math{overflow-x:auto}img{max-width:100%}"""


def _image(step) -> str:
    """The step's result as an embedded PNG heatmap, or a note when it cannot be drawn."""
    try:
        from .plot import plot

        fig = plot(step.result)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    except (ImportError, MemoryLimitError, ValueError) as err:
        return f"<p><i>no heatmap: {html_escape(str(err).splitlines()[0])}</i></p>"
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="heatmap of {html_escape(step.target)}" src="data:image/png;base64,{data}">'


def _step(k: int, step) -> str:
    r = step.result
    parts = " &middot; ".join(html_escape(p.name) + f" <i>({p.kind} "
                              f"{p.out_shape} by {p.in_shape})</i>" for p in step.parts)
    matrix = r.matrix_notation()
    return (f'<div class="step"><h3>Step {k}: {html_escape(step.target)}</h3><p>= {parts}</p>'
            f"<p>einsum <code>{html_escape(r.spec)}</code></p>"
            f"<p>index notation:</p>{html_math(r.latex())}"
            f"<p><code>{html_escape(r.index_notation())}</code></p>"
            f"<p>matrix notation: <code>{html_escape(matrix or '(not a matrix product)')}"
            f"</code>; the shortcut: <code>{html_escape(step.shortcut)}</code></p>"
            f"<p>result: {html_escape(r.kind)} of shape {r.shape}</p>{_image(step)}</div>")


def handout(explanation, net) -> str:
    """The whole page for ``explanation`` (``tc.explain(net, x, y, param)``) of ``net``.

    >>> import numpy as np, tensorcalc as tc
    >>> net = tc.Network.random([3, 4, 2], seed=0)
    >>> page = tc.handout(tc.explain(net, np.ones(3), np.zeros(2), "W1"), net)
    >>> page.startswith("<!DOCTYPE html>") and page.count('class="step"')
    3
    """
    title = f"dC/d{explanation.param}: the chain rule, step by step"
    steps = "".join(_step(k, s) for k, s in enumerate(explanation.steps, 1))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html_escape(title)}"
            f"</title><style>{STYLE}</style><script async src='{MATHJAX}'></script></head>"
            f"<body><h1>{html_escape(title)}</h1><h2>The network</h2>{network_html(net)}"
            f"<h2>The steps</h2>{steps}<p><small>Formulas are typeset by MathJax when it can "
            f"load; without it their LaTeX source is shown.</small></p></body></html>")
