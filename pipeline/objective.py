"""The objective Optuna calls: one trial trains one configuration over the study's seeds.

Two pruning levels, neither decided by one seed alone:
(a) per epoch: the running mean over seeds of the validation score is reported at step
    seed_index * max_epochs + epoch; the pruner's warm-up is one seed's worth of steps, so it
    acts from the second seed on, and never in the first half of a seed's epochs (LSTMs with a
    high learning rate often start slowly: bench/ search quality saw the best addition
    configuration pruned after its first epoch);
(b) across seeds (racing): after each seed from the second on, while seeds remain, a paired
    test against the incumbent on the same seeds stops a trial that is significantly worse.
Fused seed towers train every seed at once: they report the mean over all seeds at the last
seed's steps (the same quantity sequential training reports there) and need no racing.

An engine that sets the training budget (KerasTuner's Hyperband) puts the epochs in the trial's
user attr EPOCHS_BUDGET: they replace hp["epochs"], so the logged params and user attr "hp" hold
what was trained, and the trial run is tagged with it.
"""
from __future__ import annotations

import io
import math
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from pipeline import interrupts
from pipeline.errors import NonFiniteLoss
from pipeline.problems import Problem, Splits
from pipeline.racing import raced_out
from pipeline.multi_seed import SeedListener, train_seeds
from pipeline.training import SeedRun
from reports.plots import close, learning_curves
from search_spaces.loader import SearchSpace
from tracking import Tracker
from tracking.tracker import SEED, TRIAL


WORKER = f"{socket.gethostname()}:{os.getpid()}"
EPOCHS_BUDGET = "epochs_budget"  # trial user attr: epochs to train instead of hp["epochs"]


@dataclass
class StudyContext:
    """Everything a trial needs, fixed for the whole study."""

    problem: Problem
    splits: Splits
    architecture: str
    space: SearchSpace
    seeds: list[int]
    tracker: Tracker
    experiment_id: str
    parent_run_id: str
    study_name: str
    racing_alpha: float = 0.05
    tags: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None  # time.monotonic() after which running trials stop (pruned)
    fuse: bool = True  # train the seeds at once as fused towers where the architecture allows

    @property
    def max_epochs(self) -> int:
        return int(self.space.max_value("epochs"))


def summarize(scores: list[float]) -> dict[str, float]:
    """Mean, std (ddof=1) and standard error of per-seed scores."""
    arr = np.asarray(scores, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "sem": std / math.sqrt(arr.size)}


def model_summary(model) -> str:
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"))
    return buffer.getvalue()


class Objective:
    def __init__(self, ctx: StudyContext) -> None:
        self.ctx = ctx

    def __call__(self, trial: optuna.Trial) -> float:
        ctx = self.ctx
        hp = ctx.space.suggest(trial)
        tags = {**ctx.tags, "study": ctx.study_name, "trial": trial.number, "worker": WORKER,
                "reference": bool(trial.user_attrs.get("reference", False))}
        budget = trial.user_attrs.get(EPOCHS_BUDGET)
        if budget is not None:
            hp["epochs"] = tags[EPOCHS_BUDGET] = int(budget)
        run_id = ctx.tracker.start_run(ctx.experiment_id, f"trial-{trial.number}", TRIAL, ctx.parent_run_id,
                                       tags=tags, params=hp)
        trial.set_user_attr("mlflow_run_id", run_id)
        trial.set_user_attr("hp", hp)
        runs: list[SeedRun] = []
        start = time.perf_counter()
        try:
            value = self._run_seeds(trial, hp, run_id, tags, runs)
        except optuna.TrialPruned as exc:
            self._finish(trial, run_id, runs, "FINISHED", state="PRUNED", reason=str(exc))
            raise
        except NonFiniteLoss as exc:
            self._finish(trial, run_id, runs, "FAILED", state="FAIL", reason=f"non-finite loss: {exc}",
                         kind="nonfinite")
            raise
        except KeyboardInterrupt:
            self._finish(trial, run_id, runs, "KILLED", state="FAIL", reason="interrupted by the user")
            raise
        except Exception as exc:
            self._finish(trial, run_id, runs, "FAILED", state="FAIL", reason=f"{type(exc).__name__}: {exc}",
                         kind="error")
            raise
        trial.set_user_attr("seconds", time.perf_counter() - start)
        self._finish(trial, run_id, runs, "FINISHED", state="COMPLETE")
        return value

    # -- seeds -----------------------------------------------------------------------------
    def _run_seeds(self, trial: optuna.Trial, hp: dict, run_id: str, tags: dict, runs: list[SeedRun]) -> float:
        ctx = self.ctx
        listener = _TrialListener(self, trial, hp, run_id, tags, runs)
        start = time.perf_counter()
        try:
            train_seeds(ctx.problem, ctx.architecture, hp, ctx.seeds, (ctx.splits.x_train, ctx.splits.y_train),
                        (ctx.splits.x_val, ctx.splits.y_val), listener=listener, keep_models=True, fuse=ctx.fuse)
        except BaseException as exc:
            listener.close_open(exc)
            raise
        finally:
            trial.set_user_attr("epoch_trainings", listener.epoch_trainings)  # compute spent, for comparisons
        # Training wall time without the MLflow logging done between seeds; the rest of a trial is overhead.
        trial.set_user_attr("train_seconds", time.perf_counter() - start - listener.logging_seconds)
        stats = summarize([r.score for r in runs])
        for key, value in stats.items():
            trial.set_user_attr(key, value)
        if self._is_new_best(trial, stats["mean"]):
            uri = ctx.tracker.log_keras_model(run_id, listener.best_model[1], input_example=ctx.splits.x_val[:2])
            trial.set_user_attr("model_uri", uri)
        return stats["mean"]

    def _incumbent(self, trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
        try:
            best = trial.study.best_trial
        except ValueError:
            return None
        return best if best.user_attrs.get("seed_scores") else None

    def _is_new_best(self, trial: optuna.Trial, value: float) -> bool:
        try:
            best = trial.study.best_value
        except ValueError:
            return True
        return self.ctx.problem.better(value, best)

    # -- tracking --------------------------------------------------------------------------
    def _log_seed(self, run_id: str, run: SeedRun) -> None:
        tracker = self.ctx.tracker
        tracker.log_curves(run_id, run.history)
        tracker.log_metrics(run_id, {**{f"val_{k}": v for k, v in run.metrics.items()}, "epochs": run.epochs,
                                     "best_epoch": run.best_epoch, "fit_seconds": run.fit_seconds})
        tracker.end_run(run_id, "FINISHED")

    def _finish(self, trial: optuna.Trial, run_id: str, runs: list[SeedRun], status: str, state: str,
                reason: str | None = None, kind: str | None = None) -> None:
        tracker = self.ctx.tracker
        tags: dict[str, Any] = {"state": state, "n_seeds": len(runs)}
        if reason:
            tags["reason"] = reason
            trial.set_user_attr("reason", reason)
        if kind:
            trial.set_user_attr("fail_kind", kind)
        if runs:
            stats = summarize([r.score for r in runs])
            tracker.log_metrics(run_id, {f"val_{self.ctx.problem.metric}_{k}": v for k, v in stats.items()}
                                | {"n_seeds": len(runs)})
            fig = learning_curves([r.history for r in runs],
                                  f"{self.ctx.study_name} trial {trial.number} ({len(runs)} seeds)")
            tracker.log_figure(run_id, fig, "learning_curves.png")
            close(fig)
        tracker.end_run(run_id, status, tags)


class _TrialListener(SeedListener):
    """Connects training over seeds to the trial: MLflow seed runs, pruning, racing, the best model."""

    def __init__(self, objective: Objective, trial: optuna.Trial, hp: dict, run_id: str, tags: dict,
                 runs: list[SeedRun]) -> None:
        self.objective, self.ctx, self.trial, self.hp = objective, objective.ctx, trial, hp
        self.run_id, self.tags, self.runs = run_id, tags, runs
        self.open: dict[int, str] = {}  # seed -> its MLflow run, while training
        self.best_model: tuple[float, Any] | None = None
        self.incumbent = objective._incumbent(trial)
        self.logging_seconds = 0.0
        self.epoch_trainings = 0  # epochs trained, summed over seeds
        self.group = 1  # seeds training together now

    def started(self, seeds: list[int]) -> None:
        ctx, start = self.ctx, time.perf_counter()
        self.group = len(seeds)
        for seed in seeds:
            self.open[seed] = ctx.tracker.start_run(
                ctx.experiment_id, f"trial-{self.trial.number}-seed-{seed}", SEED, self.run_id,
                tags={**self.tags, "seed": seed, "fused_towers": len(seeds)}, params={**self.hp, "seed": seed})
        self.logging_seconds += time.perf_counter() - start

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
        if 2 * (epoch + 1) > ctx.max_epochs and trial.should_prune():
            raise optuna.TrialPruned(f"pruned at seed {seed_index + 1}, epoch {epoch + 1}: running mean "
                                     f"{mean:.4g} is worse than the pruner's threshold")

    def finished(self, index: int, run: SeedRun) -> None:
        ctx, trial, start = self.ctx, self.trial, time.perf_counter()
        self.objective._log_seed(self.open.pop(run.seed), run)
        if index == 0:
            ctx.tracker.log_text(self.run_id, model_summary(run.model), "model_summary.txt")
            ctx.tracker.log_metrics(self.run_id, {"n_params": run.n_params})
            trial.set_user_attr("n_params", run.n_params)
        self.logging_seconds += time.perf_counter() - start
        if self.best_model is None or ctx.problem.better(run.score, self.best_model[0]):
            self.best_model = (run.score, run.model)
        run.model = None
        self.runs.append(run)
        scores = [r.score for r in self.runs]
        trial.set_user_attr("seed_scores", scores)
        trial.set_user_attr("n_seeds", len(scores))
        if self.incumbent is None or run.towers > 1 or len(scores) == len(ctx.seeds):
            return  # racing saves the seeds still to run; fused towers have run them all
        stop, p = raced_out(scores, self.incumbent.user_attrs["seed_scores"], ctx.problem.direction,
                            ctx.racing_alpha)
        if stop:
            trial.set_user_attr("raced_out_p", p)
            raise optuna.TrialPruned(f"raced out after {len(scores)} seeds: worse than trial "
                                     f"{self.incumbent.number} on the same seeds (paired t-test p={p:.3g})")

    def close_open(self, exc: BaseException) -> None:
        """End the MLflow runs of seeds that were training when `exc` stopped them."""
        if isinstance(exc, optuna.TrialPruned):
            status, tags = "KILLED", {"state": "PRUNED", "reason": str(exc)}
        else:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            tags = {"state": "FAIL", "reason": f"{type(exc).__name__}: {exc}"}
        for run_id in self.open.values():
            self.ctx.tracker.end_run(run_id, status, tags)
        self.open.clear()
