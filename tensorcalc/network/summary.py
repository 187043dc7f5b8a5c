"""A network as a table, like a model summary: each layer, its output shape, its parameters
and their counts."""

from __future__ import annotations

from ..core.html import html_escape, html_table
from ..core.render import text_table

SUMMARY_HEAD = ["#", "layer", "output shape", "parameters", "count"]


def summary_rows(net) -> list[list[str]]:
    rows = []
    for k, node in enumerate(net.nodes, 1):
        names = [n for sub in node.walk() for n in sub.names.values()]
        count = sum(net.params[n].size for n in names)
        rows.append([str(k), repr(node.layer), str(node.out_shape),
                     ", ".join(f"{n} {net.params[n].shape}" for n in names) or "-",
                     f"{count:,}"])
    return rows


def network_text(net) -> str:
    total = sum(v.size for v in net.params.values())
    return (f"{net!r}\ninput {net.input_shape}, loss {net.loss_fn!r}\n"
            + text_table(SUMMARY_HEAD, summary_rows(net))
            + f"\n{total:,} parameters")


def network_html(net) -> str:
    total = sum(v.size for v in net.params.values())
    return (f"<div><code>{html_escape(repr(net))}</code>"
            f"{html_table(SUMMARY_HEAD, summary_rows(net))}{total:,} parameters</div>")
