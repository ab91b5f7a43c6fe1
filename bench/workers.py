"""Trials per hour with 1 and 2 local worker processes on one study (PostgreSQL storage and tracking).

Run alone: .venv/bin/python -m bench.workers [--trials 8] [--repeats 1]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import Results, median, table, timed
from bench.pg import fresh_databases
from pipeline.stages.tune import TuneSettings, tune

SPACE = """
extends: common
params:
  units: {type: int, low: 8, high: 32}
  batch_size: 32
  epochs: 3
  patience: 1
"""


def trials_per_hour(workers: int, trials: int, space: Path, runs_dir: Path) -> float:
    with fresh_databases("bench") as (storage, tracking):
        seconds, _ = timed(lambda: tune(TuneSettings(
            problem="echo", architectures="vanilla", trials=trials, seeds=2, timeout=None, workers=workers,
            storage=storage, tracking=tracking, space=str(space), pruner="none",
            data={"n_train": "1000", "n_val": "200"}, runs_dir=runs_dir, progress=False)))
    return trials / seconds * 3600


def run(results: Results, trials: int = 24, repeats: int = 1) -> None:
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(SPACE)
        for _ in range(repeats):  # interleaved, so both see the same machine state
            for workers in rates:
                rates[workers].append(trials_per_hour(workers, trials, space, Path(tmp) / "runs"))
    m1, m2 = median(rates[1]), median(rates[2])
    for workers, m in ((1, m1), (2, m2)):
        results.add("workers", f"trials_per_hour_{workers}_workers", round(m, 1), "trials/h")
    results.add("workers", "ratio_2_over_1", round(m2 / m1, 2), "x")
    results.section("3. Workers: trials per hour on one study (PostgreSQL)", table(
        ["workers", f"trials per hour (median of {repeats})"], [[1, f"{m1:.0f}"], [2, f"{m2:.0f}"]])
        + f"\n\n2 workers / 1 worker: **{m2 / m1:.2f}×** ({trials} trials of echo/vanilla, 2 seeds, 3 epochs, "
        "1,000 samples, no pruning; the 2-worker run includes starting its processes). Each local worker gets "
        "its share of the cores as TensorFlow threads.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    run(Results(), args.trials, args.repeats)
