"""Shared pieces of the benchmarks: the reference workloads, timing, and the results file."""
from __future__ import annotations

import csv
import json
import platform
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import os

BENCH_DIR = Path(__file__).resolve().parent
PROBLEMS = ("echo", "addition", "cumulative_sum")  # the reference models the comparisons use


def workload(problem: str, n_train: int, n_val: int, epochs: int, batch_size: int = 32):
    """(problem, architecture, hp, splits) of the problem's reference model at a benchmark size."""
    from search_spaces import references
    from pipeline.problems import get_problem

    p = get_problem(problem)
    hp = {**references.reference_hp(problem), "batch_size": batch_size, "epochs": epochs, "patience": 0}
    return p, references.native(problem), hp, p.splits(seed=0, n_train=n_train, n_val=n_val, n_test=max(n_val, 100))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values: list[float]) -> float:
    return float(statistics.median(values))


MARKER = "<!-- bench:{} -->"


@dataclass
class Results:
    """Rows for the CSV (section, name, value, unit, note, bench) and Markdown sections for results.md;
    `bench` names the `make bench` section that measured them (so a partial run replaces only its own)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    sections: list[tuple[str, str, str]] = field(default_factory=list)
    bench: str = ""

    def add(self, section: str, name: str, value: float, unit: str = "", note: str = "") -> None:
        self.rows.append({"section": section, "name": name, "value": value, "unit": unit, "note": note,
                          "bench": self.bench})

    def section(self, title: str, markdown: str) -> None:
        self.sections.append((title, markdown, self.bench))
        print(f"\n## {title}\n\n{markdown}", flush=True)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps({"rows": self.rows, "sections": self.sections}))

    def merge(self, path: Path) -> None:
        """Add what another process dumped."""
        data = json.loads(path.read_text())
        self.rows += data["rows"]
        self.sections += [tuple(section) for section in data["sections"]]

    def write(self, md_path: Path, csv_path: Path, header: str, keep_others: bool = False) -> None:
        """Write both files; with keep_others, what earlier runs measured in other sections stays."""
        benches = {b for _, _, b in self.sections} | {r["bench"] for r in self.rows}
        kept_md, kept_rows = (_kept(md_path, csv_path, benches) if keep_others else ("", []))
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["section", "name", "value", "unit", "note", "bench"])
            writer.writeheader()
            writer.writerows(self.rows + kept_rows)
        body = "\n\n".join(f"{MARKER.format(b)}\n## {title}\n\n{text}" for title, text, b in self.sections)
        md_path.write_text(f"{header}\n\n{body}\n" + (f"\n{kept_md}\n" if kept_md else ""))


def _kept(md_path: Path, csv_path: Path, replaced: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """The Markdown blocks and CSV rows of earlier runs whose bench section is not being replaced."""
    blocks = []
    if md_path.exists():
        text = md_path.read_text()
        parts = re.split(r"(<!-- bench:[\w-]* -->)", text)
        if len(parts) == 1:  # written before sections were marked: keep it whole, below
            body = text.split("\n## ", 1)
            if len(body) == 2:
                blocks.append(MARKER.format("earlier") + "\n## " + body[1].strip())
        for marker, block in zip(parts[1::2], parts[2::2]):
            name = marker[len("<!-- bench:"):-len(" -->")]
            if name not in replaced:
                blocks.append(marker + block.rstrip())
    rows = []
    if csv_path.exists():
        with open(csv_path, newline="") as f:
            rows = [dict(r, bench=r.get("bench") or "earlier") for r in csv.DictReader(f)
                    if (r.get("bench") or "earlier") not in replaced]
    return "\n\n".join(blocks), rows


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
