"""Trials per hour with 1 and 2 local workers on one study (PostgreSQL storage and tracking).

Run: .venv/bin/python -m bench.workers [--trials 12] [--repeats 2]
Writes bench/out/workers.csv and prints a Markdown table; the ratio is measured side by side.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from pipeline.stages.tune import TuneSettings, tune

SPACE = """
extends: common
params:
  units: {type: int, low: 8, high: 32}
  batch_size: 32
  epochs: 3
  patience: 1
"""


def fresh_databases() -> tuple[list[str], callable]:
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    names = [f"bench_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("optuna", "mlflow")]
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f"CREATE DATABASE {name}")

    def drop():
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    return [f"postgresql://postgres@127.0.0.1:5432/{n}" for n in names], drop


def one_run(workers: int, trials: int, space: Path, runs_dir: Path) -> float:
    (storage, tracking), drop = fresh_databases()
    try:
        start = time.perf_counter()
        tune(TuneSettings(problem="echo", architectures="vanilla", trials=trials, seeds=2, timeout=None,
                          workers=workers, storage=storage, tracking=tracking, space=str(space), pruner="none",
                          data={"n_train": "1000", "n_val": "200"}, runs_dir=runs_dir, progress=False))
        return trials / (time.perf_counter() - start) * 3600
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(SPACE)
        for _ in range(args.repeats):  # interleaved, so both see the same machine state
            for workers in (1, 2):
                rates[workers].append(one_run(workers, args.trials, space, Path(tmp) / "runs"))
    with open(out / "workers.csv", "w") as f:
        f.write("workers,repeat,trials_per_hour\n")
        for workers, values in rates.items():
            for i, v in enumerate(values):
                f.write(f"{workers},{i},{v:.1f}\n")
    m1, m2 = statistics.median(rates[1]), statistics.median(rates[2])
    print("| workers | trials per hour (median of %d) |\n|---|---|" % args.repeats)
    print(f"| 1 | {m1:.0f} |\n| 2 | {m2:.0f} |")
    print(f"\nratio 2 workers / 1 worker: {m2 / m1:.2f}x ({args.trials} trials of echo, 2 seeds, 2 cores)")


if __name__ == "__main__":
    main()
