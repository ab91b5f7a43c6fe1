"""A self-contained HTML report (images embedded as base64) and its Markdown twin."""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from matplotlib.figure import Figure

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"


@dataclass
class Section:
    """One report section: a title, paragraphs/tables as HTML and Markdown, and figures."""

    title: str
    html: str = ""
    markdown: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def table_html(header: list[str], rows: list[list[object]], highlight: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="winner"' if i == highlight else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def table_markdown(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
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
