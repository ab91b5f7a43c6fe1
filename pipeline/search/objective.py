"""The objective Optuna calls: one trial trains one configuration over the study's seeds.

The trial protocol: suggest the configuration and record it (user attrs); while the seeds train,
report the running mean over seeds of the validation score at step seed_index * max_epochs + epoch
and ask the study's pruner (pipeline.search.pruning holds the rule), race across seeds against the median
earlier trial (pipeline.search.racing), and stop at the time budget; end as pipeline.search.outcome says. Fused
seed towers train every seed at once: they report the mean over all seeds at the last seed's steps
(the same quantity sequential training reports there) and have no seeds left to race.

What is logged is injected: StudyContext.trial_log opens one TrialLog per trial (the MLflow one is
tracking.run_tree.TrialRuns, wired in by pipeline.search.studies). It hears each seed before the protocol
does, so a seed is logged before racing may stop the trial.

An engine that sets the training budget (KerasTuner's Hyperband) puts the epochs in the trial's
user attr EPOCHS_BUDGET: they replace hp["epochs"], so the logged params and user attr "hp" hold
what was trained, and the trial run is tagged with it.
"""
from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import optuna

from pipeline import interrupts
from pipeline.training.listeners import Listeners, SeedListener
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.search.outcome import COMPLETE, Outcome, outcome
from pipeline.problems import Problem, Splits
from pipeline.search.racing import planned_looks, race_reference, raced_out
from pipeline.training.one_seed import SeedRun
from search_spaces.loader import SearchSpace

WORKER = f"{socket.gethostname()}:{os.getpid()}"
EPOCHS_BUDGET = "epochs_budget"  # trial user attr: epochs to train instead of hp["epochs"]


class TrialLog(Protocol):
    """Where one trial is recorded: a SeedListener (started/epoch/finished) with a few more calls."""

    run_id: str  # kept in the trial's user attr "mlflow_run_id"
    logging_seconds: float  # time spent logging between seeds (not training)

    def started(self, seeds: list[int]) -> None: ...

    def epoch(self, seed_index: int, epoch: int, values: list[float]) -> None: ...

    def finished(self, index: int, run: SeedRun) -> None: ...

    def tag(self, tags: dict[str, Any]) -> None:
        """Add tags to the trial's record."""

    def log_model(self, model, input_example) -> str:
        """Record the trial's best model; return its URI (user attr "model_uri")."""

    def close(self, outcome: Outcome, runs: list[SeedRun], summary: dict[str, float] | None) -> None:
        """The trial ended as `outcome` after `runs` (their `summary`, None when no seed finished)."""


# (trial number, hp, the trial's tags) -> the trial's log
TrialLogFactory = Callable[[int, dict[str, Any], dict[str, Any]], TrialLog]


@dataclass
class StudyContext:
    """Everything a trial needs, fixed for the whole study:

        StudyContext(problem, splits, architecture, space, seeds, trial_log,
                     racing_alpha=0.05, deadline=None, fuse=True)

    `trial_log(number, hp, tags)` opens the TrialLog of each trial; pipeline.search.studies.trial_logging
    builds the MLflow one (trial runs nested under a parent run). `deadline` is a time.monotonic()
    after which running trials stop (pruned); `fuse` trains the seeds at once as fused towers where
    the architecture allows.
    """

    problem: Problem
    splits: Splits
    architecture: str
    space: SearchSpace
    seeds: list[int]
    trial_log: TrialLogFactory
    racing_alpha: float = 0.05
    deadline: float | None = None
    fuse: bool = True

    @property
    def max_epochs(self) -> int:
        return int(self.space.max_value("epochs"))


def summarize(scores: list[float]) -> dict[str, float]:
    """Mean, std (ddof=1) and standard error of per-seed scores."""
    arr = np.asarray(scores, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "sem": std / math.sqrt(arr.size)}


class TrialJob:
    """One trial's life around its training: begun (configuration suggested and recorded, its log
    opened), then ended with the exception that stopped its training or None (scored, logged, its
    outcome recorded). `listener` hears its seeds. The Objective runs one job per call; trial batches
    (pipeline.search.trial_batches) run several jobs' training as one fused model."""

    def __init__(self, ctx: StudyContext, trial: optuna.Trial) -> None:
        self.ctx, self.trial = ctx, trial
        hp = ctx.space.suggest(trial)
        tags = {"trial": trial.number, "worker": WORKER, "reference": bool(trial.user_attrs.get("reference", False))}
        budget = trial.user_attrs.get(EPOCHS_BUDGET)
        if budget is not None:
            hp["epochs"] = tags[EPOCHS_BUDGET] = int(budget)
        self.hp, self.log = hp, ctx.trial_log(trial.number, hp, tags)
        trial.set_user_attr("mlflow_run_id", self.log.run_id)
        trial.set_user_attr("hp", hp)
        self.seeds = _TrialSeeds(ctx, trial)
        self.listener = Listeners(self.log, self.seeds)
        self.start = time.perf_counter()

    def end(self, exc: BaseException | None, train_seconds: float) -> float | None:
        """Record how the trial ended; its value (the mean over seeds) when it completed."""
        trial, seeds = self.trial, self.seeds
        trial.set_user_attr("epoch_trainings", seeds.epoch_trainings)  # compute spent, for comparisons
        if exc is not None:
            self._finish(outcome(exc))
            return None
        # Training wall time without the logging done between seeds; the rest of a trial is overhead.
        trial.set_user_attr("train_seconds", train_seconds - self.log.logging_seconds)
        stats = summarize([r.score for r in seeds.runs])
        for key, value in stats.items():
            trial.set_user_attr(key, value)
        if self._is_new_best(stats["mean"]):
            trial.set_user_attr("model_uri", self.log.log_model(seeds.best_model, self.ctx.splits.x_val[:2]))
        trial.set_user_attr("seconds", time.perf_counter() - self.start)
        self._finish(COMPLETE)
        return stats["mean"]

    def _is_new_best(self, value: float) -> bool:
        try:
            best = self.trial.study.best_value
        except ValueError:
            return True
        return self.ctx.problem.better(value, best)

    def _finish(self, result: Outcome) -> None:
        if result.reason:
            self.trial.set_user_attr("reason", result.reason)
        if result.kind:
            self.trial.set_user_attr("fail_kind", result.kind)
        runs = self.seeds.runs
        self.log.close(result, runs, summarize([r.score for r in runs]) if runs else None)


class Objective:
    """What study.optimize calls: one trial, its seeds trained together (fused) or one by one."""

    def __init__(self, ctx: StudyContext) -> None:
        self.ctx = ctx

    def __call__(self, trial: optuna.Trial) -> float:
        ctx = self.ctx
        job = TrialJob(ctx, trial)
        start = time.perf_counter()
        try:
            train_seeds(ctx.problem, ctx.architecture, job.hp, ctx.seeds,
                        (ctx.splits.x_train, ctx.splits.y_train), (ctx.splits.x_val, ctx.splits.y_val),
                        listener=job.listener, options=TrainOptions(keep_models=True, fuse=ctx.fuse))
        except BaseException as exc:
            job.end(exc, time.perf_counter() - start)
            raise
        return job.end(None, time.perf_counter() - start)


class _TrialSeeds(SeedListener):
    """The trial's side of training over seeds: time budget, reports and pruning, per-seed user attrs,
    the best seed's model, racing."""

    def __init__(self, ctx: StudyContext, trial: optuna.Trial) -> None:
        self.ctx, self.trial = ctx, trial
        self.runs: list[SeedRun] = []
        self.best_model: Any = None
        self.best_score: float | None = None
        self.reference = _race_reference(trial)
        self.epoch_trainings = 0  # epochs trained, summed over seeds
        self.group = 1  # seeds training together now

    def started(self, seeds: list[int]) -> None:
        self.group = len(seeds)

    def epoch(self, seed_index: int, epoch: int, values: list[float]) -> None:
        """Report the running mean over seeds at step seed_index * max_epochs + epoch; prune if told."""
        ctx, trial = self.ctx, self.trial
        interrupts.check()
        self.epoch_trainings += self.group
        if ctx.deadline is not None and time.monotonic() > ctx.deadline:
            raise optuna.TrialPruned(f"stopped at seed {seed_index + 1}, epoch {epoch + 1}: the time budget "
                                     "(TIMEOUT) is spent")
        mean = float(np.mean(values))
        trial.report(mean, seed_index * ctx.max_epochs + epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at seed {seed_index + 1}, epoch {epoch + 1}: running mean "
                                     f"{mean:.4g} is worse than the pruner's threshold")

    def finished(self, index: int, run: SeedRun) -> None:
        ctx, trial = self.ctx, self.trial
        if index == 0:
            trial.set_user_attr("n_params", run.n_params)
        if self.best_score is None or ctx.problem.better(run.score, self.best_score):
            self.best_score, self.best_model = run.score, run.model
        run.model = None
        self.runs.append(run)
        scores = [r.score for r in self.runs]
        trial.set_user_attr("seed_scores", scores)
        trial.set_user_attr("n_seeds", len(scores))
        if self.reference is None or run.towers > 1 or len(scores) == len(ctx.seeds):
            return  # racing saves the seeds still to run; fused towers have run them all
        looks = planned_looks(len(ctx.seeds))
        stop, p = raced_out(scores, self.reference, ctx.problem.direction, ctx.racing_alpha, looks)
        if stop:
            trial.set_user_attr("raced_out_p", p)
            raise optuna.TrialPruned(f"raced out after {len(scores)} seeds: worse than the median earlier trial "
                                     f"on the same seeds (paired t-test p={p:.3g} < {ctx.racing_alpha}/{looks} looks)")


def _race_reference(trial: optuna.Trial) -> list[float] | None:
    """The per-seed median of the study's earlier trials that ran seeds (stopped ones too; None while
    too few)."""
    done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                          optuna.trial.TrialState.PRUNED))
    return race_reference([t.user_attrs.get("seed_scores") or [] for t in done])
