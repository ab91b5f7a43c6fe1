"""Bookkeeping overhead: the share of a trial's wall time spent outside training (data, Optuna,
MLflow, saving) at default settings, and whether time per trial stays flat over a 100-trial study.

Run alone: .venv/bin/python -m bench.overhead [--trials 3] [--long-trials 100]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import optuna

from bench.common import Results, median, table, timed
from pipeline.stages.tune import TuneSettings, tune
from pipeline.stores.storage import optuna_storage


def _trials(runs_dir: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=optuna_storage(None, runs_dir))
    return [t for t in loaded.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]


def _durations(trials) -> tuple[np.ndarray, np.ndarray]:
    wall = np.array([(t.datetime_complete - t.datetime_start).total_seconds() for t in trials])
    train = np.array([t.user_attrs["train_seconds"] for t in trials])
    return wall, train


def default_overhead(results: Results, problem: str = "addition", trials: int = 3) -> None:
    """A few trials of `make tune` at its default settings (pruning off, so every trial runs whole)."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        total, _ = timed(lambda: tune(TuneSettings(problem=problem, architectures="encoder_decoder", trials=trials,
                                                   pruner="none", timeout=None, runs_dir=runs, progress=False)))
        wall, train = _durations(_trials(runs, f"{problem}-encoder_decoder"))
    per_trial = 1 - train / wall
    whole = 1 - train.sum() / total
    results.add("overhead", "per_trial_share_median", round(float(np.median(per_trial)), 4), "share")
    results.add("overhead", "whole_run_share", round(float(whole), 4), "share", "incl. start-up")
    results.section("1. Overhead: time outside training", table(
        ["trial", "wall s", "training s", "outside training"],
        [[i, f"{w:.1f}", f"{t:.1f}", f"{1 - t / w:.1%}"] for i, (w, t) in enumerate(zip(wall, train))])
        + f"\n\n`make tune PROBLEM={problem}` defaults (3 seeds, default data size and space), {trials} trials "
        f"of encoder_decoder without pruning. Median share outside training per trial: "
        f"**{np.median(per_trial):.1%}** (target under 5%); for the whole run including start-up, "
        f"opening the stores and the summary: {whole:.1%} of {total:.0f} s.")


# Every trial the same size and cost, so that times compare along the study (initializer, optimizer and
# learning rate are searched; dropout and L2, which change a step's cost, are fixed).
TINY_SPACE = """
extends: common
params:
  units: 16
  dropout: 0.0
  l2: 0.0
  batch_size: 32
  epochs: 3
  patience: 0
"""


def flat_overhead(results: Results, trials: int = 100, window: int = 5) -> None:
    """Time per trial at the start, middle and end of one long study of tiny trials."""
    with tempfile.TemporaryDirectory() as tmp:
        runs, space = Path(tmp) / "runs", Path(tmp) / "space.yaml"
        space.write_text(TINY_SPACE)
        tune(TuneSettings(problem="echo", architectures="vanilla", trials=trials, seeds=2, pruner="none",
                          timeout=None, runs_dir=runs, progress=False, space=str(space),
                          data={"n_train": "200", "n_val": "50", "n_test": "50"}))
        done = sorted(_trials(runs, "echo-vanilla"), key=lambda t: t.number)
    wall, train = _durations(done)
    marks = [1, trials // 2, trials]
    rows = []
    for mark in marks:
        lo = min(max(mark - 1 - window // 2, 0), len(done) - window)
        w, t = wall[lo:lo + window], train[lo:lo + window]
        rows.append([mark, f"{median(list(w)):.2f}", f"{median(list(t)):.2f}", f"{median(list(w - t)):.2f}"])
        results.add("flat_overhead", f"trial_{mark}_wall_s", round(median(list(w)), 3), "s")
        results.add("flat_overhead", f"trial_{mark}_outside_training_s", round(median(list(w - t)), 3), "s")
    growth, growth_wall = (float(np.polyfit(np.arange(len(wall)), y, 1)[0]) * 100 for y in (wall - train, wall))
    results.add("flat_overhead", "outside_training_growth_per_100_trials", round(growth, 3), "s")
    results.add("flat_overhead", "wall_growth_per_100_trials", round(growth_wall, 3), "s")
    results.section("6. Flat overhead over a long study", table(
        ["trial", "wall s", "training s", "outside training s"], rows)
        + f"\n\nOne study of {len(done)} tiny echo trials (2 seeds, 200 samples, 3 epochs, 16 units; the learning "
        "rate and optimizer searched); medians over "
        f"{window} trials around each mark. Fitted growth per 100 trials: {growth:+.2f} s outside training, "
        f"{growth_wall:+.2f} s for the whole trial.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--long-trials", type=int, default=100)
    args = parser.parse_args()
    out = Results()
    default_overhead(out, trials=args.trials)
    flat_overhead(out, args.long_trials)
