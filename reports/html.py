"""A self-contained HTML report (images embedded as base64) and its Markdown twin."""
from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pandas as pd
from matplotlib.figure import Figure

from reports.stats import Comparison, fmt

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"


@dataclass
class Section:
    """One report section: a title, paragraphs/tables as HTML and Markdown, and figures."""

    title: str
    html: str = ""
    markdown: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    """A table cell's link (e.g. to an MLflow run): its text alone when there is no address."""

    text: str
    href: str | None = None

    def html(self) -> str:
        text = html.escape(self.text)
        return f'<a href="{html.escape(self.href)}">{text}</a>' if self.href else text

    def markdown(self) -> str:
        return f"[{self.text}]({self.href})" if self.href else self.text


def _cell_html(cell: object) -> str:
    """A cell: text (escaped), a Link, or a list of Links (one per line)."""
    if isinstance(cell, Link):
        return cell.html()
    if isinstance(cell, (list, tuple)):
        return "<br>".join(_cell_html(c) for c in cell)
    return html.escape(str(cell))


def _cell_markdown(cell: object) -> str:
    if isinstance(cell, Link):
        return cell.markdown()
    if isinstance(cell, (list, tuple)):
        return "; ".join(_cell_markdown(c) for c in cell)
    return str(cell)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def table_html(header: list[str], rows: list[list[object]], highlight: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="winner"' if i == highlight else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def p_value(p: float) -> str:
    """A p-value with its significance mark: * < 0.05, ** < 0.01, *** < 0.001."""
    if p is None or math.isnan(p):
        return "—"
    marks = "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""
    return f"{fmt(p, 3)}{marks}"


def comparison_html(c: Comparison) -> str:
    """The statistics of a comparison as HTML tables: summary (winner marked), omnibus, pairwise, legend."""
    split = (f"best chosen on {c.n_select} seeds, tested and estimated on {c.n_confirm} others" if c.n_confirm
             else "chosen, tested and estimated on the same seeds")
    facts = (f"<p>Direction: {c.direction}; {'paired' if c.paired else 'unpaired'} seeds; alpha = {c.alpha}; "
             f"{split}; equivalence margin: {fmt(c.margin)}; detectable difference (80% power): "
             f"{fmt(c.detectable)}.</p>")
    summary = c.summary
    columns = [("count", "n"), ("mean", "mean"), ("std", "std"), ("iqm", "IQM"), ("iqm_low", "IQM 95% low"),
               ("iqm_high", "IQM 95% high"), ("50%", "median"), ("min", "min"), ("max", "max"),
               ("estimate", "confirmation mean")] + ([("params", "parameters")] if "params" in summary else [])
    rows = [[name] + [fmt(int(r[k])) if k in ("count", "params") and not _missing(r[k]) else fmt(r[k])
                      for k, _ in columns] for name, r in summary.iterrows()]
    winner = list(summary.index).index(c.winner)
    parts = [facts, table_html(["candidate"] + [label for _, label in columns], rows, winner)]
    if c.omnibus:
        parts.append(f"<p>Omnibus: {html.escape(c.omnibus['test'])}, statistic {fmt(c.omnibus['statistic'])}, "
                     f"p = {p_value(c.omnibus['p_value'])}"
                     + (f" ({html.escape(c.omnibus['note'])})" if c.omnibus.get("note") else "") + "</p>")
    if c.pairwise:
        header = ["candidate", "test", "p", "p (Holm)", "difference", "95% bootstrap-t CI", "Cliff's delta",
                  "d (paired: d_z)", "P(improvement)", "p equivalent (Holm)", "significantly worse"]
        rows = [[p.candidate, p.test + (f" ({p.note})" if p.note else ""), p_value(p.p_value), p_value(p.p_holm),
                 fmt(p.mean_difference), f"[{fmt(p.ci_low)}, {fmt(p.ci_high)}]", fmt(p.cliffs_delta, 2),
                 fmt(p.cohens_d, 2), fmt(p.probability_of_improvement, 2), p_value(p.p_equivalent_holm),
                 "yes" if p.significantly_worse else "no"] for p in c.pairwise]
        parts.append(f"<p>Each candidate against the best ('{html.escape(c.best)}'), one-sided (candidate "
                     "worse), Holm-corrected:</p>" + table_html(header, rows))
    parts.append("<p class='note'>Legend: * p &lt; 0.05, ** p &lt; 0.01, *** p &lt; 0.001. Differences are "
                 "candidate − best in the metric's units; Cliff's delta, d and P(improvement) are oriented so that "
                 "negative (below 0.5) means worse. IQM: mean of the middle half of the seeds. The green row is "
                 "the winner.</p>")
    return "".join(parts)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def table_markdown(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell_markdown(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(out_dir: Path, problem: str, sections: list[Section]) -> tuple[Path, Path]:
    """Write report.html (self-contained), summary.md and the figures as PNG files into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    body, markdown = [f"<h1>lstm-tune report: {html.escape(problem)}</h1>"], [f"# lstm-tune report: {problem}"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>{section.html}")
        markdown.append(f"## {section.title}\n\n{section.markdown}")
        figures = []
        for name, fig in section.figures.items():
            data = png(fig)
            (out_dir / f"{name}.png").write_bytes(data)
            encoded = base64.b64encode(data).decode()
            figures.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
                           f"<figcaption>{html.escape(name)}</figcaption></figure>")
            markdown.append(f"![{name}]({name}.png)")
        if figures:
            body.append(f'<div class="grid">{"".join(figures)}</div>')
    html_path, md_path = out_dir / "report.html", out_dir / "summary.md"
    html_path.write_text(Template(TEMPLATE.read_text()).safe_substitute(problem=html.escape(problem),
                                                                       body="\n".join(body)))
    md_path.write_text("\n\n".join(markdown) + "\n")
    return html_path, md_path
