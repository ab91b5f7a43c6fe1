"""The MLflow run tree of a study: one study run, under it a run per trial, under each a run per seed.

Takes plain values (run ids, trial numbers), never Optuna objects: pipeline.search.studies opens the tree,
and TrialRuns is the trial log that pipeline.search.objective is given (its TrialLog protocol).
"""
from __future__ import annotations

import io
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterator, Protocol

from pipeline.training.listeners import SeedListener
from pipeline.training.one_seed import SeedRun
from reports.plots import close, learning_curves
from tracking.outbox import WORKER_DIED, Journal, metric_items
from tracking.tracker import SEED, STUDY, TRIAL, Tracker, ending


class Ending(Protocol):
    """How a trial ended, as its runs record it (pipeline.search.outcome.Outcome is one)."""

    state: str  # COMPLETE, PRUNED or FAIL
    status: str  # the trial run's MLflow status
    reason: str | None
    cut_status: str  # the status of a seed run cut off while training


@dataclass(frozen=True)
class RunScope:
    """One MLflow run and where it lives (in place of a tracker, an experiment id and a run id)."""

    tracker: Tracker
    experiment_id: str
    run_id: str

    def running_children(self, role: str | None = None) -> list[tuple[RunScope, dict[str, str]]]:
        """The runs nested directly under this one that are still RUNNING, with their tags."""
        return [(RunScope(self.tracker, self.experiment_id, run.info.run_id), run.data.tags)
                for run in self.tracker.children(self.experiment_id, self.run_id, role=role, status="RUNNING")]

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self.tracker.log_metrics(self.run_id, metrics)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.tracker.set_tags(self.run_id, tags)

    def end(self, status: str = "FINISHED", tags: dict[str, Any] | None = None) -> None:
        """Finish the run; while MLflow is unreachable, the end waits in the outbox (tracking.outbox)."""
        journal = Journal(self.tracker, self.experiment_id, self.tracker.outbox / f"run-{self.run_id}",
                          {"run": self.run_id})
        journal.do({"op": "end", "run": "run", "status": status, "tags": tags})
        journal.close()

    @contextmanager
    def closing(self) -> Iterator[RunScope]:
        """This run for the block, then ended as Tracker.run ends one: FINISHED, or KILLED on Ctrl-C and
        FAILED on another exception, with the reason (which goes on up)."""
        try:
            yield self
        except BaseException as exc:
            self.end(*ending(exc))
            raise
        self.end()


def open_study_run(tracker: Tracker, experiment_id: str, name: str, run_id: str | None, tags: dict[str, Any],
                   params: dict[str, Any], inputs: list[dict[str, str]] = ()) -> RunScope:
    """The study's one parent run: `run_id` (kept by the caller in the study) reopened when it exists,
    else a new run; every worker and every resumption of the study logs under it. Its datasets
    (tracking.datasets) are logged either way (a run of an older version gets them; again, nothing)."""
    if tracker.run_exists(run_id):
        tracker.reopen(run_id)
        if inputs:
            tracker.log_inputs(run_id, list(inputs))
        return RunScope(tracker, experiment_id, run_id)
    return RunScope(tracker, experiment_id, tracker.start_run(experiment_id, name, STUDY, tags=tags, params=params,
                                                              inputs=list(inputs)))


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

    Seed runs hold the curves and the seed's metrics; the trial run its datasets (`inputs`, as
    tracking.datasets gives them), the first seed's model summary and n_params, the best model, and at
    `close` the summary over seeds and the learning curves, tagged with how the trial ended. `logging_seconds` is the time spent logging between seeds. Every write
    goes through a Journal: if MLflow stops answering, the rest waits on disk (tracking.outbox).
    """

    def __init__(self, study: RunScope, study_name: str, metric: str, number: int, hp: dict[str, Any],
                 tags: dict[str, Any], inputs: list[dict[str, str]] = ()) -> None:
        self.title, self.metric, self.number = f"{study_name} trial {number}", metric, number
        self.hp, self.tags, self.tracker = hp, tags, study.tracker
        folder = study.tracker.outbox / f"{study_name}-trial-{number}-{study.run_id[:8]}"
        self.journal = Journal(study.tracker, study.experiment_id, folder, {"parent": study.run_id})
        self.journal.do(_create("trial", "parent", f"trial-{number}", TRIAL, {"trial": number}, tags, hp))
        if inputs:
            self.journal.do({"op": "inputs", "run": "trial", "inputs": list(inputs)})
        self.run_id = self.journal.ids.get("trial", "")  # "" while MLflow is away: the replay creates it
        self.open: set[int] = set()  # seeds training now
        self.logging_seconds = 0.0

    def started(self, seeds: list[int]) -> None:
        start = time.perf_counter()
        for seed in seeds:
            self.open.add(seed)
            self.journal.do(_create(f"seed-{seed}", "trial", f"trial-{self.number}-seed-{seed}", SEED, {"seed": seed},
                                    {**self.tags, "seed": seed, "fused_towers": len(seeds)}, {**self.hp, "seed": seed}))
        self.logging_seconds += time.perf_counter() - start

    def finished(self, index: int, run: SeedRun) -> None:
        start, key = time.perf_counter(), f"seed-{run.seed}"
        self.open.discard(run.seed)
        rows = [[k, float(v), int(time.time() * 1000), epoch]
                for k, values in run.history.items() for epoch, v in enumerate(values, start=1)]
        metrics = {**{f"val_{k}": v for k, v in run.metrics.items()}, "epochs": run.epochs,
                   "best_epoch": run.best_epoch, "fit_seconds": run.fit_seconds}
        self.journal.do({"op": "metrics", "run": key, "items": rows + metric_items(metrics)})
        self.journal.do({"op": "end", "run": key, "status": "FINISHED"})
        if index == 0:
            self.journal.do({"op": "text", "run": "trial", "text": model_summary(run.model), "path": "model_summary.txt"})
            self.journal.do({"op": "metrics", "run": "trial", "items": metric_items({"n_params": run.n_params})})
        self.logging_seconds += time.perf_counter() - start

    def tag(self, tags: dict[str, Any]) -> None:
        self.journal.do({"op": "tags", "run": "trial", "tags": tags})

    def log_model(self, model, input_example) -> str:
        """Log the trial's best model; its models:/ URI (its runs:/ URI when it waits in the outbox)."""
        def save(folder):
            self.tracker.save_keras_model(model, folder / "model", input_example)
            return "model"
        uri = self.journal.artifacts("trial", lambda: self.tracker.log_keras_model(
            self.journal.ids["trial"], model, input_example=input_example), save, "model")
        self.journal.do({"op": "text", "run": "trial", "text": self.tracker.example_json(input_example),
                         "path": "model_input_example.json"})
        return uri or f"runs:/{self.run_id or 'pending'}/model"

    def close(self, outcome: Ending, runs: list[SeedRun], summary: dict[str, float] | None) -> None:
        """End the seed runs cut off by the trial's end, then the trial run, as `outcome` says."""
        for seed in sorted(self.open):
            self.journal.do({"op": "end", "run": f"seed-{seed}", "status": outcome.cut_status,
                             "tags": {"state": outcome.state, "reason": outcome.reason}})
        self.open.clear()
        tags: dict[str, Any] = {"state": outcome.state, "n_seeds": len(runs)}
        if outcome.reason:
            tags["reason"] = outcome.reason
        if runs:
            self.journal.do({"op": "metrics", "run": "trial", "items": metric_items(
                {f"val_{self.metric}_{k}": v for k, v in (summary or {}).items()} | {"n_seeds": len(runs)})})
            fig = learning_curves([r.history for r in runs], f"{self.title} ({len(runs)} seeds)")

            def save(folder):
                fig.savefig(folder / "learning_curves.png")
                return "learning_curves.png"
            self.journal.artifacts("trial", lambda: self.tracker.log_figure(
                self.journal.ids["trial"], fig, "learning_curves.png"), save)
            close(fig)
        self.journal.do({"op": "end", "run": "trial", "status": outcome.status, "tags": tags})
        self.journal.close()


def _create(key: str, parent: str, name: str, role: str, identity: dict[str, Any], tags: dict[str, Any],
            params: dict[str, Any]) -> dict[str, Any]:
    """The journal entry that makes a run; `identity` (with the role) finds it again under its parent."""
    return {"op": "create", "run": key, "parent": parent, "name": name, "tags": {k: str(v) for k, v in tags.items()},
            "params": {k: str(v) for k, v in params.items()},
            "match": {"role": role, **{k: str(v) for k, v in identity.items()}}}


def trial_runs(study: RunScope, study_name: str, metric: str, tags: dict[str, Any],
               inputs: list[dict[str, str]] = ()) -> Callable[[int, dict[str, Any], dict[str, Any]], TrialRuns]:
    """The factory of a study's trial logs: trial `number` with hyperparameters `hp` and its own tags
    (added to the study's `tags` and "study": study_name) gets a TrialRuns under `study`, logging `inputs`."""
    study_tags = {**tags, "study": study_name}

    def open_trial(number: int, hp: dict[str, Any], trial_tags: dict[str, Any]) -> TrialRuns:
        return TrialRuns(study, study_name, metric, number, hp, {**study_tags, **trial_tags}, inputs)
    return open_trial
