"""Shared pieces of the benchmarks: the reference workloads, timing, and the results file."""
from __future__ import annotations

import csv
import json
import platform
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
    from pipeline import references
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


@dataclass
class Results:
    """Rows for the CSV (section, name, value, unit, note) and Markdown sections for results.md."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)

    def add(self, section: str, name: str, value: float, unit: str = "", note: str = "") -> None:
        self.rows.append({"section": section, "name": name, "value": value, "unit": unit, "note": note})

    def section(self, title: str, markdown: str) -> None:
        self.sections.append((title, markdown))
        print(f"\n## {title}\n\n{markdown}", flush=True)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps({"rows": self.rows, "sections": self.sections}))

    def merge(self, path: Path) -> None:
        """Add what another process dumped."""
        data = json.loads(path.read_text())
        self.rows += data["rows"]
        self.sections += [tuple(section) for section in data["sections"]]

    def write(self, md_path: Path, csv_path: Path, header: str) -> None:
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["section", "name", "value", "unit", "note"])
            writer.writeheader()
            writer.writerows(self.rows)
        body = "\n\n".join(f"## {title}\n\n{text}" for title, text in self.sections)
        md_path.write_text(f"{header}\n\n{body}\n")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
