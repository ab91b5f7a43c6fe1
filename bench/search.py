"""What the tuner finds in the time users give it.

- `throughput`: `make tune`'s default job (addition, both architectures, default sizes and space, 3
  seeds per trial) at equal wall time, side by side: one trial at a time as before vs batches of
  trials trained as one fused model (pipeline.search.trial_batches), with the median or the hyperband pruner.
  Counted: configurations evaluated (trained at least one epoch), complete trials (full fidelity),
  and what the report's winner scores on the test set against the book's reference.
- `leaderboard`: the tune job with its defaults on each problem's native architecture at a fixed
  budget; the report's winner vs the reference on the test set, both retrained on fresh seeds.
- `schedule`: what cosine learning-rate decay adds on cumulative_sum, on the test set.
- `samplers`: TPE (the default), random search and a Gaussian process (GPSampler, when PyTorch is
  importable) at equal wall time on addition's native architecture, and TPE warm-started from the
  default's study; each one's best trial retrained on fresh seeds.

Run alone: .venv/bin/python -m bench.search [--minutes 10]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from bench.common import Results, table
from search_spaces import references
from pipeline.report.candidates import REFERENCE, Candidate, evaluate_candidates
from pipeline.problems import get_problem
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.tune import TuneSettings, tune
from pipeline.stores.storage import optuna_storage
from pipeline.search.studies import study_name
from pipeline.training.towers.per_tower import structure
from search_spaces.loader import load_space
from reports.stats import fmt, significantly_better

REPORT_TOP_K, REPORT_SEEDS = 3, 10  # make tune's report (pipeline.arguments: --top-k, --report-seeds)
EVAL_SEED_BASE = 60_000  # fresh seeds for the test-set comparison, outside every stage's block
VARIANTS = {  # label -> TuneSettings overrides
    "one trial at a time, median pruner (as the issue found it)": {"batch": 1, "pruner": "median"},
    "batches of 8, successive halving, stopped towers leave the model (default)": {},
}
QUICK_DATA = {"n_train": "300", "n_val": "100", "n_test": "100"}  # --quick: checks the section runs
LEADERBOARD = ("echo", "damped_sine", "addition", "cumulative_sum", "moving_square")
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
ISSUE_COMMIT = "7c5129d"  # main when issue 14 ("Tuning that tunes") was filed: the code its "today" measured
ISSUE_ROW = f"the code the issue measured ({ISSUE_COMMIT}): one trial at a time, {{pruner}}"
THREAD_SETTINGS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")  # pipeline sets them; that code did not


def _studies(runs: Path) -> dict[str, optuna.Study]:
    storage = optuna_storage(None, runs)
    return {s.user_attrs.get("architecture", s.study_name): optuna.load_study(study_name=s.study_name, storage=storage)
            for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}


def issue_era_tune(runs: Path, minutes: float | None, pruner: str, problem: str, data: dict[str, str],
                   extra: list[str] = ()) -> float:
    """`make tune PROBLEM=<problem>` as the code of ISSUE_COMMIT ran it (its defaults but the pruner and the
    arguments in `extra`, which win over earlier ones; no report), unpacked from git next to `runs`, in this
    virtual environment, in a process with that code's thread settings; the seconds it took. Its studies land
    in `runs` like today's."""
    code = runs.parent / f"code-{ISSUE_COMMIT}"
    code.mkdir()
    archive = subprocess.run(["git", "archive", ISSUE_COMMIT], cwd=Path(__file__).parent.parent,  # the whole tree
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    env = {k: v for k, v in os.environ.items() if k not in THREAD_SETTINGS}
    where = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"], cwd=code, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).is_relative_to(code):  # a package missing there would come from the venv's editable install
        raise RuntimeError(f"the {ISSUE_COMMIT} row would run {where}, not the code unpacked in {code}")
    argv = [sys.executable, "-m", "pipeline.cli", "tune", "--problem", problem, "--trials", "10000", "--timeout",
            str(minutes * 60 if minutes else 0), "--pruner", pruner, "--runs-dir", str(runs), "--no-report",
            "--no-progress", *[arg for k, v in data.items() for arg in ("--data", f"{k}={v}")], *extra]
    start = time.perf_counter()
    subprocess.run(argv, cwd=code, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _counts(studies: dict[str, optuna.Study]) -> dict[str, int]:
    trials = [t for s in studies.values() for t in s.get_trials(deepcopy=False, states=FINISHED)]
    return {"evaluated": sum(bool(t.intermediate_values) for t in trials),
            "complete": sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)}


def winner_vs_reference(name: str, runs: Path, eval_seeds: int, data: dict[str, str]) -> dict:
    """What the tune job delivers: the report's winner (make tune's report: the top 3 complete trials and the
    reference re-evaluated on 10 report seeds, the winner chosen by its statistical rule) and the book's
    reference, both retrained on `eval_seeds` fresh seeds (so the winner's own selection does not bias its
    score) and scored on the test set; a paired one-sided test that the winner is better."""
    problem = get_problem(name, **{k: v for k, v in data.items() if not k.startswith("n_")})
    start = time.perf_counter()
    chosen = report(ReportSettings(problem=name, runs_dir=runs, out_dir=runs / "report", top_k=REPORT_TOP_K,
                                   repeats=REPORT_SEEDS, register=False, progress=False))
    report_seconds = time.perf_counter() - start
    splits = problem.splits(seed=0, **{k: int(v) for k, v in data.items() if k.startswith("n_")})
    seeds = [EVAL_SEED_BASE + i for i in range(eval_seeds)]
    pair = [_reference(name, REFERENCE)]
    winner = chosen.winner
    if not winner.name.startswith(REFERENCE):
        pair.append(Candidate(winner.name, winner.architecture, winner.hp))
    evaluate_candidates(problem, splits, pair, seeds, progress=False)
    ref, tuned = pair[0].test_scores, pair[-1].test_scores
    row = {"best": pair[-1].name, "tuned": tuned, "reference": ref, "p": float("nan"), "d": float("nan"),
           "report_seconds": report_seconds}
    if len(pair) == 2:
        decision = significantly_better(tuned, ref, problem.direction, paired=True)
        row.update(p=decision.p_value, d=decision.cohens_d)
    return row


def _reference(problem: str, name: str) -> Candidate:
    """The book's reference configuration of the problem's native architecture, as a candidate called `name`."""
    arch = references.native(problem)
    return Candidate(name, arch, references.reference_config(problem, load_space(arch, problem)))


_WINNER_TEXT = (
    "Then make tune's report: the top 3 complete trials and the reference re-evaluated on 10 seeds, the "
    "winner chosen by its statistical rule ('reference' when no candidate beat it); the winner and the "
    "book's reference are then retrained on {eval_seeds} fresh seeds and scored on the test set.")


_ISSUE_TEXT = (
    f"The first row is the same command run by the code the issue measured (commit {ISSUE_COMMIT}, unpacked "
    "from git and run in this environment with its own TensorFlow thread settings).")


def _scores(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def throughput(results: Results, minutes: float = 10.0, eval_seeds: int = 10, data: dict[str, str] | None = None,
               problem: str = "addition") -> None:
    data = data or {}
    rows = []
    for label, extra in {ISSUE_ROW.format(pruner="median pruner"): None, **VARIANTS}.items():
        with tempfile.TemporaryDirectory() as tmp:
            runs = Path(tmp) / "runs"
            if extra is None:  # the issue's code: counted only (today's report would not read its runs)
                wall, versus = issue_era_tune(runs, minutes, "median", problem, data), None
            else:
                start = time.perf_counter()
                tune(TuneSettings(problem=problem, trials=10_000, timeout=minutes * 60, runs_dir=runs, data=data,
                                  progress=False, **extra))
                wall = time.perf_counter() - start
            counts = _counts(_studies(runs))
            if extra is not None:
                versus = winner_vs_reference(problem, runs, eval_seeds, data)
        per10 = {k: v * 600 / wall for k, v in counts.items()}
        rows.append([label, f"{wall / 60:.1f}", counts["evaluated"], f"{per10['evaluated']:.0f}", counts["complete"],
                     f"{per10['complete'] * 6:.0f}"]
                    + (["not run (today's report)", "—", "—", "—", "—"] if versus is None else
                       [versus["best"], _scores(versus["tuned"]), _scores(versus["reference"]), fmt(versus["p"]),
                        fmt(versus["d"], 2)]))
        for key, value in per10.items():
            results.add("throughput", f"{label}|{key}_per_10_min", round(value, 1), "configurations")
        if versus is not None:
            results.add("throughput", f"{label}|p_vs_reference", versus["p"], "")
    results.section(f"Configurations per {minutes:g} minutes ({problem}, make tune's defaults)", table(
        ["search", "wall min", "configurations evaluated", "per 10 min", "complete trials", "complete per hour",
         "report's winner", f"its test score ({eval_seeds} fresh seeds)", "reference's", "p (paired, one-sided)",
         "d_z"], rows)
        + f"\n\nEach row is `make tune PROBLEM={problem}` with its defaults (every architecture of the problem, "
        f"default sizes and space, 3 seeds per trial, the time budget shared by the studies) run for "
        f"{minutes:g} minutes, side by side in one run. A configuration is evaluated when it trained at least one "
        "epoch (complete or pruned); complete trials trained to their end (early stopping on validation "
        f"included). {_ISSUE_TEXT} {_WINNER_TEXT.format(eval_seeds=eval_seeds)}")


FIDELITY = {  # label -> TuneSettings overrides (pruning off: every trial trains to its end)
    "one trial at a time (3 fused seeds)": {"batch": 1},
    "batches of 8 trials (24 towers, the default batch)": {},
}


def fidelity_workload(problem: str, arch: str, structures: int, siblings: int, seed: int = 0) -> list[dict]:
    """structures x siblings configurations drawn at random from the default space, in the order make tune's
    batches ask them: a leader, then siblings that share its structure (pipeline.training.towers.per_tower) and draw
    their own learning rate, dropout, L2 and initializer."""
    space, sampler = load_space(arch, problem), optuna.samplers.RandomSampler(seed)
    study = optuna.create_study(sampler=sampler)
    configs = []
    for _ in range(structures):
        study.sampler = sampler
        leader = space.restrict(space.suggest(study.ask()))
        study.sampler = optuna.samplers.PartialFixedSampler(structure(leader), sampler)
        configs += [leader] + [space.restrict(space.suggest(study.ask())) for _ in range(siblings - 1)]
    return configs


def _queued(runs: Path, problem: str, arch: str, configs: list[dict]) -> None:
    """A study as make tune names it, with `configs` in its queue (so no reference trial is added)."""
    study = optuna.create_study(study_name=study_name(problem, arch, TuneSettings(problem=problem)),
                                storage=optuna_storage(None, runs), direction=get_problem(problem).direction)
    for config in configs:
        study.enqueue_trial(config)


def fidelity(results: Results, problem: str = "addition", structures: int = 3, siblings: int = 8,
             data: dict[str, str] | None = None) -> None:
    """Trials per hour at equal fidelity: the same configurations (fidelity_workload), every one trained to its
    end (pruning off), by the issue's code one trial at a time and by today's one at a time and in batches."""
    arch, data, seeds = references.native(problem), data or {}, TuneSettings.__dataclass_fields__["seeds"].default
    configs = fidelity_workload(problem, arch, structures, siblings)
    rows = []
    for label, extra in {ISSUE_ROW.format(pruner="no pruning"): None, **FIDELITY}.items():
        with tempfile.TemporaryDirectory() as tmp:
            runs = Path(tmp) / "runs"
            _queued(runs, problem, arch, configs)
            if extra is None:
                wall = issue_era_tune(runs, None, "none", problem, data,
                                      ["--arch", arch, "--trials", str(len(configs))])
            else:
                start = time.perf_counter()
                tune(TuneSettings(problem=problem, architectures=arch, trials=len(configs), timeout=None,
                                  pruner="none", runs_dir=runs, data=data, progress=False, **extra))
                wall = time.perf_counter() - start
            trials = [t for study in _studies(runs).values()
                      for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        seed_epochs = sum(t.user_attrs.get("epoch_trainings", 0) for t in trials)
        per_hour = len(trials) * 3600 / wall
        rows.append([label, f"{wall / 60:.1f}", f"{len(trials)} of {len(configs)}", f"**{per_hour:.0f}**",
                     f"{seed_epochs / max(len(trials), 1) / seeds:.1f}", f"{seed_epochs * 3600 / wall:.0f}"])
        key = "issue" if extra is None else "batch1" if extra.get("batch") == 1 else "batched"
        results.add("fidelity", f"{problem}|{key}|complete_per_hour", round(per_hour, 1), "trials")
        results.add("fidelity", f"{problem}|{key}|seed_epochs_per_hour", round(seed_epochs * 3600 / wall), "epochs")
    results.section(f"Trials per hour at equal fidelity ({problem}, the same {len(configs)} configurations)", table(
        ["search", "wall min", "complete trials", "complete per hour", "epochs per seed run",
         "seed-epochs per hour"], rows)
        + f"\n\nEach row trains the same {len(configs)} configurations of {problem}'s {arch} ({structures} "
        f"structures drawn at random from the default space, {siblings} configurations of each differing in "
        f"what each tower has of its own, queued in that order) with `make tune PROBLEM={problem} ARCH={arch} "
        f"PRUNER=none`'s other defaults ({seeds} seeds per trial, default sizes, no time limit), side by side in "
        "one run: every trial trains until its epochs or early stopping end it. " + _ISSUE_TEXT)


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
            versus = winner_vs_reference(name, Path(tmp), eval_seeds, data)
        metric = get_problem(name).metric
        rows.append([name, native, f"{budget / 60:.1f}", f"{wall / 60:.1f}", f"{versus['report_seconds'] / 60:.1f}",
                     counts["evaluated"], versus["best"],
                     f"{_scores(versus['tuned'])} {metric}", _scores(versus["reference"]), fmt(versus["p"]),
                     fmt(versus["d"], 2)])
        print("[leaderboard] " + " | ".join(str(c) for c in rows[-1]), flush=True)  # a long run shows each row
        results.add("leaderboard", f"{name}|tuned_test_mean", round(float(np.mean(versus["tuned"])), 4), metric)
        results.add("leaderboard", f"{name}|reference_test_mean", round(float(np.mean(versus["reference"])), 4),
                    metric)
        results.add("leaderboard", f"{name}|p_vs_reference", versus["p"], "")
    results.section("Leaderboard: tuned vs the book's reference", table(
        ["problem", "architecture", "budget min", "tuning min", "report min", "configurations", "report's winner",
         f"test score ({eval_seeds} fresh seeds)", "reference", "p (paired, one-sided)", "d_z"], rows)
        + "\n\nEach problem: `make tune PROBLEM=<problem> ARCH=<native> TIMEOUT=<budget>` with the "
        "budget the default `make tune PROBLEM=<problem>` gives its native architecture (10 minutes shared "
        "equally by the problem's architectures) and the other defaults (batches of 8 trials, 3 seeds each, "
        f"successive halving), default sizes. {_WINNER_TEXT.format(eval_seeds=eval_seeds)} p: one-sided paired "
        "test that the winner is better (t or Wilcoxon as the differences' normality says).")


SAMPLER_VARIANTS = {  # label -> (sampler, warm-started from the first variant's study)
    "TPE, 5 random start-up trials, multivariate, constant liar (default)": ("tpe", False),
    "random search": ("random", False),
    "Gaussian process (Optuna's GPSampler)": ("gp", False),
    "TPE warm-started: the default's best 2 trials enqueued after the reference": ("tpe", True),
}


def samplers(results: Results, problem: str = "addition", minutes: float | None = None, eval_seeds: int = 5,
             data: dict[str, str] | None = None) -> None:
    """Each sampler tunes the native architecture for the same wall time (default: its share of the
    default run); its best trial by validation and the reference are retrained on the same fresh seeds."""
    data, arch = data or {}, references.native(problem)
    budget = minutes * 60 if minutes else default_share(problem)
    task = get_problem(problem, **{k: v for k, v in data.items() if not k.startswith("n_")})
    splits = task.splits(seed=0, **{k: int(v) for k, v in data.items() if k.startswith("n_")})
    seeds = [EVAL_SEED_BASE + i for i in range(eval_seeds)]
    reference = _reference(problem, "reference (book)")
    evaluate_candidates(task, splits, [reference], seeds, progress=False)
    rows = [[reference.name, "", "", "", "", _scores(reference.test_scores), "", ""]]
    with tempfile.TemporaryDirectory() as tmp:
        for label, (sampler, warm) in SAMPLER_VARIANTS.items():
            if sampler == "gp" and importlib.util.find_spec("torch") is None:
                rows.append([label, "not run: PyTorch is not installed", "", "", "", "", "", ""])
                continue
            runs = Path(tmp) / sampler  # the warm-started TPE study joins the default's storage
            start = time.perf_counter()
            tune(TuneSettings(problem=problem, architectures=arch, trials=10_000, timeout=budget, runs_dir=runs,
                              data=data, progress=False, sampler=sampler, tag="warm" if warm else None))
            wall = time.perf_counter() - start
            storage = optuna_storage(None, runs)  # the default's and the warm-started study share it
            study = optuna.load_study(storage=storage, study_name=next(
                s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
                if s.study_name.endswith("-warm") == warm))
            counts = _counts({arch: study})
            if not counts["complete"]:
                rows.append([label, f"{wall / 60:.1f}", counts["evaluated"], 0, "", "", "", ""])
                continue
            best = study.best_trial
            candidate = Candidate(label, arch, dict(best.user_attrs["hp"]))
            evaluate_candidates(task, splits, [candidate], seeds, progress=False)
            decision = significantly_better(candidate.test_scores, reference.test_scores, task.direction, paired=True)
            rows.append([label, f"{wall / 60:.1f}", counts["evaluated"], counts["complete"],
                         f"{best.value:.4f} (#{best.number})", _scores(candidate.test_scores),
                         fmt(decision.p_value), fmt(decision.cohens_d, 2)])
            print("[samplers] " + " | ".join(str(c) for c in rows[-1]), flush=True)
            results.add("samplers", f"{problem}|{label}|evaluated", counts["evaluated"], "configurations")
            results.add("samplers", f"{problem}|{label}|test_mean", round(float(np.mean(candidate.test_scores)), 4),
                        task.metric)
    results.section(f"Samplers at equal wall time ({problem}, {arch})", table(
        ["sampler", "tuning min", "configurations evaluated", "complete", "best trial: validation",
         f"its test {task.metric} ({eval_seeds} fresh seeds)", "p vs reference (paired, one-sided)", "d_z"], rows)
        + f"\n\nEach sampler runs `make tune PROBLEM={problem} ARCH={arch}` with its other defaults (batches of 8, "
        f"3 seeds per trial, successive halving) for {budget / 60:.1f} minutes, its share of the default run; "
        "the warm-started study runs after the default's, in the same storage, so it starts with the "
        "reference and the default's 2 best configurations. Each study's best trial by validation mean and "
        f"the book's reference are retrained on the same {eval_seeds} fresh seeds and scored on the test set. "
        "One study per sampler: a single run, not a distribution over study seeds.")


SCHEDULE_VARIANTS = {  # label -> overrides of the reference configuration
    "reference (book)": {},
    "128 units, rate 0.01, constant": {"units": 128, "learning_rate": 0.01},
    "128 units, rate 0.01, cosine decay": {"units": 128, "learning_rate": 0.01, "lr_schedule": "cosine"},
}


def schedule(results: Results, problem: str = "cumulative_sum", eval_seeds: int = 5,
             data: dict[str, str] | None = None) -> None:
    """What the learning-rate schedule adds: the reference, a wider model at a high constant rate, and the
    same with cosine decay, each trained on `eval_seeds` fresh seeds and scored on the test set."""
    task = get_problem(problem)
    reference = _reference(problem, "")
    arch = reference.architecture
    splits = task.splits(seed=0, **{k: int(v) for k, v in (data or {}).items()})
    seeds = [EVAL_SEED_BASE + i for i in range(eval_seeds)]
    candidates = [Candidate(label, arch, {**reference.hp, **extra}) for label, extra in SCHEDULE_VARIANTS.items()]
    evaluate_candidates(task, splits, candidates, seeds, progress=False)
    rows = []
    for c in candidates:
        decision = significantly_better(c.test_scores, candidates[0].test_scores, task.direction, paired=True)
        rows.append([c.name, _scores(c.test_scores)] + (["", ""] if c is candidates[0] else
                                                        [fmt(decision.p_value), fmt(decision.cohens_d, 2)]))
        results.add("schedule", f"{problem}|{c.name}|test_mean", round(float(np.mean(c.test_scores)), 4),
                    task.metric)
    results.section(f"Learning-rate schedule ({problem}, {arch})", table(
        ["configuration", f"test {task.metric} ({eval_seeds} fresh seeds)", "p vs reference (paired, one-sided)",
         "d_z"], rows)
        + f"\n\nThe book's reference and two changes of it, each trained on the same {eval_seeds} fresh seeds "
        "(default sizes, early stopping on validation) and scored on the test set.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    throughput(Results(), minutes=args.minutes)
