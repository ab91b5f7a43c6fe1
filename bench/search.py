"""What the tuner finds in the time users give it.

- `throughput`: `make tune`'s default job (addition, both architectures, default sizes and space, 3
  seeds per trial) at equal wall time, side by side: one trial at a time as before vs batches of
  trials trained as one fused model (pipeline.trial_batches), with the median or the hyperband pruner.
  Counted: configurations evaluated (trained at least one epoch), complete trials (full fidelity),
  and what the best of the native architecture scores on the test set against the book's reference.
- `leaderboard`: the tune job with its defaults on each problem's native architecture at a fixed
  budget; the best configuration vs the reference on the test set, both retrained on fresh seeds.

Run alone: .venv/bin/python -m bench.search [--minutes 10]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from bench.common import Results, table
from pipeline import references
from pipeline.candidates import Candidate, evaluate_candidates
from pipeline.problems import get_problem
from pipeline.stages.tune import TuneSettings, tune
from pipeline.storage import optuna_storage
from reports.stats import fmt, significantly_better

EVAL_SEED_BASE = 60_000  # fresh seeds for the test-set comparison, outside every stage's block
VARIANTS = {  # label -> TuneSettings overrides
    "one trial at a time, median pruner (as the issue found it)": {"batch": 1, "pruner": "median"},
    "batches of 8, successive halving, stopped towers leave the model (default)": {},
}
QUICK_DATA = {"n_train": "300", "n_val": "100", "n_test": "100"}  # --quick: checks the section runs
LEADERBOARD = ("echo", "damped_sine", "addition", "cumulative_sum", "moving_square")
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


def _studies(runs: Path) -> dict[str, optuna.Study]:
    storage = optuna_storage(None, runs)
    return {s.user_attrs["architecture"]: optuna.load_study(study_name=s.study_name, storage=storage)
            for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}


def _counts(studies: dict[str, optuna.Study]) -> dict[str, int]:
    trials = [t for s in studies.values() for t in s.get_trials(deepcopy=False, states=FINISHED)]
    return {"evaluated": sum(bool(t.intermediate_values) for t in trials),
            "complete": sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)}


def tuned_vs_reference(name: str, study: optuna.Study, eval_seeds: int, data: dict[str, str]) -> dict:
    """The study's best complete configuration and the book's reference (the study's trial 0), both
    retrained on `eval_seeds` fresh seeds and scored on the test set; a paired one-sided test that the best
    is better. The reference alone when no other trial completed."""
    problem = get_problem(name)
    arch = study.user_attrs["architecture"]
    reference = next(t for t in study.trials if t.user_attrs.get("reference"))
    try:
        best = study.best_trial
    except ValueError:  # nothing completed in the budget
        best = reference
    splits = problem.splits(seed=0, **{k: int(v) for k, v in data.items()})
    seeds = [EVAL_SEED_BASE + i for i in range(eval_seeds)]
    pair = [Candidate("reference", arch, reference.user_attrs["hp"])]
    if best.number != reference.number:
        pair.append(Candidate(f"trial {best.number}", arch, best.user_attrs["hp"]))
    evaluate_candidates(problem, splits, pair, seeds, progress=False)
    ref, tuned = pair[0].test_scores, pair[-1].test_scores
    row = {"best": pair[-1].name, "tuned": tuned, "reference": ref, "p": float("nan"), "d": float("nan")}
    if len(pair) == 2:
        decision = significantly_better(tuned, ref, problem.direction, paired=True)
        row.update(p=decision.p_value, d=decision.cohens_d)
    return row


def _scores(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def throughput(results: Results, minutes: float = 10.0, eval_seeds: int = 10, data: dict[str, str] | None = None,
               problem: str = "addition") -> None:
    data = data or {}
    native = references.native(problem)
    rows = []
    for label, extra in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            tune(TuneSettings(problem=problem, trials=10_000, timeout=minutes * 60, runs_dir=Path(tmp), data=data,
                              progress=False, **extra))
            wall = time.perf_counter() - start
            studies = _studies(Path(tmp))
            counts = _counts(studies)
            versus = tuned_vs_reference(problem, studies[native], eval_seeds, data)
        per10 = {k: v * 600 / wall for k, v in counts.items()}
        rows.append([label, f"{wall / 60:.1f}", counts["evaluated"], f"{per10['evaluated']:.0f}", counts["complete"],
                     f"{per10['complete'] * 6:.0f}", versus["best"], _scores(versus["tuned"]),
                     _scores(versus["reference"]), fmt(versus["p"]), fmt(versus["d"], 2)])
        for key, value in per10.items():
            results.add("throughput", f"{label}|{key}_per_10_min", round(value, 1), "configurations")
        results.add("throughput", f"{label}|p_vs_reference", versus["p"], "")
    results.section(f"Configurations per {minutes:g} minutes ({problem}, make tune's defaults)", table(
        ["search", "wall min", "configurations evaluated", "per 10 min", "complete trials", "complete per hour",
         f"best {native} trial", f"its test score ({eval_seeds} fresh seeds)", "reference's", "p (paired, one-sided)",
         "d_z"], rows)
        + f"\n\nEach row is `make tune PROBLEM={problem}` with its defaults (every architecture of the problem, "
        f"default sizes and space, 3 seeds per trial, the time budget shared by the studies) run for "
        f"{minutes:g} minutes, side by side in one run. A configuration is evaluated when it trained at least one "
        "epoch (complete or pruned); complete trials trained to their end (early stopping on validation "
        f"included). The best {native} trial by validation score and the book's reference are retrained on "
        f"{eval_seeds} fresh seeds and scored on the test set.")


def leaderboard_problems() -> tuple[str, ...]:
    """The leaderboard's problems: LEADERBOARD=a,b in the environment (`make bench ONLY=leaderboard
    LEADERBOARD=addition`), else every one."""
    chosen = os.environ.get("LEADERBOARD")
    return tuple(p.strip() for p in chosen.split(",") if p.strip()) if chosen else LEADERBOARD


def default_share(problem: str) -> float:
    """Seconds the default `make tune PROBLEM=<problem>` gives the native architecture: an equal share of
    the default time budget among the problem's architectures."""
    return TuneSettings.__dataclass_fields__["timeout"].default / len(references.architectures_for(problem))


def leaderboard(results: Results, minutes: float | None = None, eval_seeds: int = 10, problems=LEADERBOARD,
                sizes: dict[str, dict[str, str]] | None = None) -> None:
    """Each problem's native architecture tuned for `minutes` (default: its share of the default run)."""
    rows = []
    for name in problems:
        data = (sizes or {}).get(name, {})
        native = references.native(name)
        budget = minutes * 60 if minutes else default_share(name)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            tune(TuneSettings(problem=name, architectures=native, trials=10_000, timeout=budget,
                              runs_dir=Path(tmp), data=data, progress=False))
            wall = time.perf_counter() - start
            studies = _studies(Path(tmp))
            counts = _counts(studies)
            versus = tuned_vs_reference(name, studies[native], eval_seeds, data)
        metric = get_problem(name).metric
        rows.append([name, native, f"{budget / 60:.1f}", f"{wall / 60:.1f}", counts["evaluated"], versus["best"],
                     f"{_scores(versus['tuned'])} {metric}", _scores(versus["reference"]), fmt(versus["p"]),
                     fmt(versus["d"], 2)])
        results.add("leaderboard", f"{name}|tuned_test_mean", round(float(np.mean(versus["tuned"])), 4), metric)
        results.add("leaderboard", f"{name}|reference_test_mean", round(float(np.mean(versus["reference"])), 4),
                    metric)
        results.add("leaderboard", f"{name}|p_vs_reference", versus["p"], "")
    results.section("Leaderboard: tuned vs the book's reference", table(
        ["problem", "architecture", "budget min", "tuning min", "configurations", "best trial",
         f"test score ({eval_seeds} fresh seeds)", "reference", "p (paired, one-sided)", "d_z"], rows)
        + "\n\nEach problem: `make tune PROBLEM=<problem> ARCH=<native> TIMEOUT=<budget> REPORT=0` with the "
        "budget the default `make tune PROBLEM=<problem>` gives its native architecture (10 minutes shared "
        "equally by the problem's architectures) and the other defaults (batches of 8 trials, 3 seeds each, "
        "successive halving), default sizes; then its best trial by validation "
        f"score and the reference (trial 0) retrained on {eval_seeds} fresh seeds and scored on the test set. "
        "'best trial: reference' means the search found nothing better on validation. p: one-sided paired "
        "test that the tuned configuration is better (t or Wilcoxon as the differences' normality says).")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    throughput(Results(), minutes=args.minutes)
