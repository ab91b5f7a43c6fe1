"""Reproduce the book: train each problem's reference configuration at the book's size over seeds."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from search_spaces import references
from pipeline.problems import PROBLEMS, get_problem
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.training.seeding import tuning_seeds

SIZE_KEYS = ("n_train", "n_test")


@dataclass
class Reproduction:
    problem: str
    architecture: str
    metric: str
    scores: list[float]
    extra: dict[str, list[float]]  # other test metrics per seed (e.g. exact_match)
    seconds: list[float]
    book: dict

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0


def reproduce_one(name: str, seeds: int, data: dict[str, str] | None = None, fuse: bool = True) -> Reproduction:
    """Train the native reference of `name` at the book's size, one epoch as the book, on `seeds` seeds."""
    data = dict(data or {})
    book = references.book(name)
    sizes = {k: int(data.pop(k, book[k])) for k in SIZE_KEYS}
    problem = get_problem(name, **data)
    splits = problem.splits(seed=0, n_train=sizes["n_train"], n_val=1, n_test=sizes["n_test"])
    hp = {**references.reference_hp(name), "epochs": int(book["epochs"]), "patience": 0}
    arch = references.native(name)
    scores, seconds, extra = [], [], {}
    for run in train_seeds(problem, arch, hp, tuning_seeds(0, seeds), (splits.x_train, splits.y_train),
                           options=TrainOptions(keep_models=True, fuse=fuse)):
        metrics = problem.evaluate(run.model, splits.x_test, splits.y_test)
        scores.append(float(metrics[problem.metric]))
        for key, value in metrics.items():
            if key != problem.metric:
                extra.setdefault(key, []).append(float(value))
        seconds.append(run.fit_seconds)
    return Reproduction(name, arch, problem.metric, scores, extra, seconds, book)


def reproduce(name: str, seeds: int, data: dict[str, str] | None = None,
              echo: Callable[[str], None] | None = None, fuse: bool = True) -> list[Reproduction]:
    """One problem, or 'all' (every problem with a book figure; csv needs a file and is skipped)."""
    names = [n for n in PROBLEMS if n != "csv"] if name == "all" else [name]
    results = []
    for n in names:
        start = time.perf_counter()
        results.append(reproduce_one(n, seeds, data, fuse))
        if echo:
            r = results[-1]
            echo(f"{n}: {r.metric} {r.mean:.4f} ± {r.std:.4f} over {seeds} seeds "
                 f"({time.perf_counter() - start:.0f}s)")
    return results


def format_table(results: list[Reproduction]) -> str:
    """A Markdown table: measured mean ± std next to the book's figure, fit time per seed."""
    lines = ["| problem | architecture | book reports | measured (test) | other metrics | fit time per seed |",
             "|---|---|---|---|---|---|"]
    for r in results:
        others = "; ".join(f"{k} {np.mean(v):.4f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.4f}"
                           for k, v in r.extra.items())
        lines.append(f"| {r.problem} | {r.architecture} | {r.book['reported']} | {r.metric} {r.mean:.4f} ± "
                     f"{r.std:.4f} (n={len(r.scores)}) | {others} | {min(r.seconds):.0f}–{max(r.seconds):.0f} s |")
    return "\n".join(lines)
