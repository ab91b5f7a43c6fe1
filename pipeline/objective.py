"""The objective Optuna calls: one trial trains one configuration over the study's seeds.

Two pruning levels, neither decided by one seed alone:
(a) per epoch: the running mean over seeds of the validation score is reported at step
    seed_index * max_epochs + epoch; the pruner's warm-up is one seed's worth of steps, so it
    acts from the second seed on;
(b) across seeds (racing): after each seed from the second on, a paired test against the
    incumbent on the same seeds stops a trial that is significantly worse.
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

from pipeline.errors import NonFiniteLoss
from pipeline.problems import Problem, Splits
from pipeline.racing import raced_out
from pipeline.training import SeedRun, train_one
from reports.plots import close, learning_curves
from search_spaces.loader import SearchSpace
from tracking import Tracker
from tracking.tracker import SEED, TRIAL


WORKER = f"{socket.gethostname()}:{os.getpid()}"


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
        problem, splits = ctx.problem, ctx.splits
        incumbent = self._incumbent(trial)
        best_model = None
        for index, seed in enumerate(ctx.seeds):
            seed_run_id = ctx.tracker.start_run(ctx.experiment_id, f"trial-{trial.number}-seed-{seed}", SEED,
                                                run_id, tags={**tags, "seed": seed}, params={**hp, "seed": seed})
            try:
                run = train_one(problem, ctx.architecture, hp, seed, (splits.x_train, splits.y_train),
                                (splits.x_val, splits.y_val), on_epoch=self._epoch_hook(trial, index, runs),
                                keep_model=True)
            except optuna.TrialPruned as exc:
                ctx.tracker.end_run(seed_run_id, "KILLED", {"state": "PRUNED", "reason": str(exc)})
                raise
            except BaseException as exc:
                ctx.tracker.end_run(seed_run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED",
                                    {"state": "FAIL", "reason": f"{type(exc).__name__}: {exc}"})
                raise
            self._log_seed(seed_run_id, run)
            if index == 0:
                ctx.tracker.log_text(run_id, model_summary(run.model), "model_summary.txt")
                ctx.tracker.log_metrics(run_id, {"n_params": run.n_params})
                trial.set_user_attr("n_params", run.n_params)
            if best_model is None or problem.better(run.score, best_model[0]):
                best_model = (run.score, run.model)
            run.model = None
            runs.append(run)
            scores = [r.score for r in runs]
            trial.set_user_attr("seed_scores", scores)
            trial.set_user_attr("n_seeds", len(scores))
            if incumbent is not None:
                stop, p = raced_out(scores, incumbent.user_attrs["seed_scores"], problem.direction,
                                    ctx.racing_alpha)
                if stop:
                    trial.set_user_attr("raced_out_p", p)
                    raise optuna.TrialPruned(
                        f"raced out after {len(scores)} seeds: worse than trial {incumbent.number} on the "
                        f"same seeds (paired t-test p={p:.3g})")
        stats = summarize([r.score for r in runs])
        for key, value in stats.items():
            trial.set_user_attr(key, value)
        if self._is_new_best(trial, stats["mean"]):
            uri = ctx.tracker.log_keras_model(run_id, best_model[1], input_example=splits.x_val[:2])
            trial.set_user_attr("model_uri", uri)
        return stats["mean"]

    def _epoch_hook(self, trial: optuna.Trial, index: int, done: list[SeedRun]):
        """Report the running mean over seeds at this epoch; prune when the pruner says so."""
        metric = f"val_{self.ctx.problem.metric}"
        offset = index * self.ctx.max_epochs

        def hook(epoch: int, value: float) -> None:
            if self.ctx.deadline is not None and time.monotonic() > self.ctx.deadline:
                raise optuna.TrialPruned(f"stopped at seed {index + 1}, epoch {epoch + 1}: the time budget "
                                         "(TIMEOUT) is spent")
            earlier = [r.history[metric][min(epoch, len(r.history[metric]) - 1)] for r in done]
            mean = float(np.mean(earlier + [value]))
            trial.report(mean, offset + epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at seed {index + 1}, epoch {epoch + 1}: running mean "
                                         f"{mean:.4g} is worse than the pruner's threshold")
        return hook

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
