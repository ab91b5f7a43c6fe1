"""The MLflow run tree of a study: one study run, under it a run per trial, under each a run per seed.

Takes plain values (run ids, trial numbers), never Optuna objects: pipeline.studies opens the tree,
and TrialRuns is the trial log that pipeline.objective is given (its TrialLog protocol).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Collection

from pipeline.multi_seed import SeedListener
from pipeline.training import SeedRun
from reports.plots import close, learning_curves
from tracking.tracker import SEED, STUDY, TRIAL, Tracker

if TYPE_CHECKING:
    from pipeline.outcome import Outcome

WORKER_DIED = {"state": "FAIL", "reason": "worker died"}


@dataclass(frozen=True)
class RunScope:
    """One MLflow run and where it lives (in place of a tracker, an experiment id and a run id)."""

    tracker: Tracker
    experiment_id: str
    run_id: str

    def child(self, name: str, role: str, tags: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> RunScope:
        """A new run nested under this one."""
        run_id = self.tracker.start_run(self.experiment_id, name, role, self.run_id, tags=tags, params=params)
        return RunScope(self.tracker, self.experiment_id, run_id)

    def running_children(self, role: str | None = None) -> list[tuple[RunScope, dict[str, str]]]:
        """The runs nested directly under this one that are still RUNNING, with their tags."""
        return [(RunScope(self.tracker, self.experiment_id, run.info.run_id), run.data.tags)
                for run in self.tracker.children(self.experiment_id, self.run_id, role=role, status="RUNNING")]

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self.tracker.log_metrics(self.run_id, metrics)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.tracker.set_tags(self.run_id, tags)

    def end(self, status: str = "FINISHED", tags: dict[str, Any] | None = None) -> None:
        self.tracker.end_run(self.run_id, status, tags)


def open_study_run(tracker: Tracker, experiment_id: str, name: str, run_id: str | None, tags: dict[str, Any],
                   params: dict[str, Any]) -> RunScope:
    """The study's one parent run: `run_id` (kept by the caller in the study) reopened when it exists,
    else a new run; every worker and every resumption of the study logs under it."""
    if tracker.run_exists(run_id):
        tracker.reopen(run_id)
        return RunScope(tracker, experiment_id, run_id)
    return RunScope(tracker, experiment_id, tracker.start_run(experiment_id, name, STUDY, tags=tags, params=params))


def close_stale_trial_runs(study: RunScope, running: Collection[int]) -> None:
    """Trial runs left RUNNING by a worker that died (their trial number is not in `running`, the trials
    still running in the study): marked KILLED, with their seed runs."""
    for trial, tags in study.running_children(role=TRIAL):
        if int(tags.get("trial", -1)) in running:
            continue
        for seed, _ in trial.running_children():
            seed.end("KILLED", WORKER_DIED)
        trial.end("KILLED", WORKER_DIED)


def model_summary(model) -> str:
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"))
    return buffer.getvalue()


class TrialRuns(SeedListener):
    """One trial's runs: the trial run (params = hp), and a run per seed while it trains.

    Seed runs hold the curves and the seed's metrics; the trial run the first seed's model summary and
    n_params, the best model, and at `close` the summary over seeds and the learning curves, tagged
    with how the trial ended. `logging_seconds` is the time spent logging between seeds.
    """

    def __init__(self, study: RunScope, study_name: str, metric: str, number: int, hp: dict[str, Any],
                 tags: dict[str, Any]) -> None:
        self.title, self.metric, self.number = f"{study_name} trial {number}", metric, number
        self.hp, self.tags = hp, tags
        self.trial = study.child(f"trial-{number}", TRIAL, tags=tags, params=hp)
        self.run_id = self.trial.run_id
        self.open: dict[int, RunScope] = {}  # seed -> its run, while training
        self.logging_seconds = 0.0

    def started(self, seeds: list[int]) -> None:
        start = time.perf_counter()
        for seed in seeds:
            self.open[seed] = self.trial.child(f"trial-{self.number}-seed-{seed}", SEED,
                                               tags={**self.tags, "seed": seed, "fused_towers": len(seeds)},
                                               params={**self.hp, "seed": seed})
        self.logging_seconds += time.perf_counter() - start

    def finished(self, index: int, run: SeedRun) -> None:
        start, tracker = time.perf_counter(), self.trial.tracker
        seed = self.open.pop(run.seed)
        tracker.log_curves(seed.run_id, run.history)
        seed.log_metrics({**{f"val_{k}": v for k, v in run.metrics.items()}, "epochs": run.epochs,
                          "best_epoch": run.best_epoch, "fit_seconds": run.fit_seconds})
        seed.end("FINISHED")
        if index == 0:
            tracker.log_text(self.run_id, model_summary(run.model), "model_summary.txt")
            self.trial.log_metrics({"n_params": run.n_params})
        self.logging_seconds += time.perf_counter() - start

    def tag(self, tags: dict[str, Any]) -> None:
        self.trial.set_tags(tags)

    def log_model(self, model, input_example) -> str:
        """Log the trial's best model; its models:/ URI."""
        return self.trial.tracker.log_keras_model(self.run_id, model, input_example=input_example)

    def close(self, outcome: Outcome, runs: list[SeedRun], summary: dict[str, float] | None) -> None:
        """End the seed runs cut off by the trial's end, then the trial run, as `outcome` says."""
        for seed in self.open.values():
            seed.end(outcome.cut_status, {"state": outcome.state, "reason": outcome.reason})
        self.open.clear()
        tags: dict[str, Any] = {"state": outcome.state, "n_seeds": len(runs)}
        if outcome.reason:
            tags["reason"] = outcome.reason
        if runs:
            self.trial.log_metrics({f"val_{self.metric}_{k}": v for k, v in (summary or {}).items()}
                                   | {"n_seeds": len(runs)})
            fig = learning_curves([r.history for r in runs], f"{self.title} ({len(runs)} seeds)")
            self.trial.tracker.log_figure(self.run_id, fig, "learning_curves.png")
            close(fig)
        self.trial.end(outcome.status, tags)


def trial_runs(study: RunScope, study_name: str, metric: str,
               tags: dict[str, Any]) -> Callable[[int, dict[str, Any], dict[str, Any]], TrialRuns]:
    """The factory of a study's trial logs: trial `number` with hyperparameters `hp` and its own tags
    (added to the study's `tags` and "study": study_name) gets a TrialRuns under `study`."""
    study_tags = {**tags, "study": study_name}

    def open_trial(number: int, hp: dict[str, Any], trial_tags: dict[str, Any]) -> TrialRuns:
        return TrialRuns(study, study_name, metric, number, hp, {**study_tags, **trial_tags})
    return open_trial
