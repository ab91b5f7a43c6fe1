"""Trial batches: several trials of one study trained at once, as the towers of one fused model.

A batch is a leader and its siblings. The leader's configuration is sampled as usual; the siblings
share its structure (pipeline.training.towers.per_tower.structure: what one fused model cannot vary), fixed with
Optuna's PartialFixedSampler, and the study's sampler chooses the rest: learning rate, dropout,
L1/L2, initializer. The batch trains as one model of batch × seeds towers (pipeline.training.towers.fused). Each
trial is still its own: it reports its mean over seeds every epoch, is pruned on its own (its towers
stop updating, the others train on), has its own MLflow trial and seed runs, and is told its own
state. Trials that cannot share a model (a structure from the study's queue, an architecture that
does not fuse) train one after another.
"""
from __future__ import annotations

import json
import time
from contextlib import ExitStack
from typing import Callable

import optuna
from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled  # as study.optimize uses them

from pipeline.training.towers.fused import Group, fusable, train_groups
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.search.objective import StudyContext, TrialJob
from pipeline.search.outcome import outcome
from pipeline.training.towers.per_tower import PER_TOWER, structure
from pipeline.training.towers.model import TooWide, Unfusable

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


class Batch:
    """One batch of a study's trials, from asking to telling; `abandon` ends whatever an interrupt left."""

    def __init__(self, study: optuna.Study, ctx: StudyContext) -> None:
        self.study, self.ctx = study, ctx
        self.trials: list[optuna.Trial] = []  # asked
        self.jobs: list[TrialJob] = []  # begun
        self.told: dict[int, optuna.trial.FrozenTrial] = {}
        self.heartbeats = ExitStack()  # each asked trial's heartbeat, until the batch ends

    def ask(self, size: int) -> None:
        """A leader trial and up to size - 1 siblings of its structure, begun (configurations suggested)."""
        self._begin()
        fixed = {name: value for name, value in self.trials[0].params.items() if name not in PER_TOWER}
        sampler = self.study.sampler
        self.study.sampler = optuna.samplers.PartialFixedSampler(fixed, sampler)
        try:
            while len(self.jobs) < size:
                self._begin()
        finally:
            self.study.sampler = sampler

    def _begin(self) -> None:
        self.trials.append(self.study.ask())
        self.heartbeats.enter_context(get_heartbeat_thread(self.trials[-1]._trial_id, self.study._storage))
        self.jobs.append(TrialJob(self.ctx, self.trials[-1]))

    def run(self) -> list[optuna.trial.FrozenTrial]:
        """Train the jobs (one fused model per structure), end and tell each; their frozen trials."""
        start = time.perf_counter()
        results: dict[int, Exception | None] = {}
        for members in _by_structure(self.jobs):
            for job, result in zip(members, _train(self.ctx, members)):
                results[job.trial.number] = result if isinstance(result, Exception) else None
        share = (time.perf_counter() - start) / len(self.jobs)
        return [self._tell(job, results[job.trial.number], share) for job in self.jobs]

    def abandon(self, exc: BaseException) -> list[optuna.trial.FrozenTrial]:
        """End and tell every trial of the batch not yet told as `exc` says; every trial of the batch, frozen."""
        for job in self.jobs:
            if job.trial.number not in self.told:
                self._tell(job, exc, 0.0)
        ended = outcome(exc)
        for trial in self.trials[len(self.jobs):]:  # asked, stopped before it began
            trial.set_user_attr("reason", ended.reason)
            if ended.kind:
                trial.set_user_attr("fail_kind", ended.kind)
            self.told[trial.number] = self.study.tell(trial, state=optuna.trial.TrialState.FAIL,
                                                      skip_if_finished=True)
        return [self.told[t.number] for t in self.trials]

    def _tell(self, job: TrialJob, exc: BaseException | None, seconds: float) -> optuna.trial.FrozenTrial:
        """End the job as `exc` says and tell the study; its frozen trial."""
        try:
            value = job.end(exc, seconds)
        except Exception as error:  # noqa: BLE001 - recording failed: the trial fails, the batch goes on
            exc, value = error, None
            job.trial.set_user_attr("reason", outcome(error).reason)
        state = outcome(exc).trial_state
        frozen = self.study.tell(job.trial, value if state == optuna.trial.TrialState.COMPLETE else None,
                                 state=state, skip_if_finished=True)
        self.told[job.trial.number] = frozen
        return frozen


def optimize_in_batches(study: optuna.Study, ctx: StudyContext, n_trials: int, timeout: float | None,
                        batch: int, callbacks: list[Callback], stopped: Callable[[], bool]) -> None:
    """Like study.optimize: n_trials new trials (fewer when `timeout` seconds pass or `stopped()`), asked
    and trained `batch` at a time; each callback hears every finished trial."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if not (ctx.fuse and fusable(ctx.problem, ctx.architecture)):
        batch = 1
    done = 0
    while done < n_trials and not stopped() and (deadline is None or time.monotonic() < deadline):
        if is_heartbeat_enabled(study._storage):  # a dead worker's trials fail (and are retried), as in optimize
            optuna.storages.fail_stale_trials(study)
        current = Batch(study, ctx)
        with current.heartbeats:
            try:
                current.ask(min(batch, n_trials - done))
                finished = current.run()
            except Exception as exc:  # noqa: BLE001 - beginning a trial failed: it fails, the study goes on
                finished = current.abandon(exc)
            except BaseException as exc:  # an interrupt: no trial of the batch is left RUNNING
                current.abandon(exc)
                raise
        for frozen in finished:
            for callback in callbacks:
                callback(study, frozen)
        done += max(1, len(finished))


def _by_structure(jobs: list[TrialJob]) -> list[list[TrialJob]]:
    groups: dict[str, list[TrialJob]] = {}
    for job in jobs:
        groups.setdefault(json.dumps(structure(job.hp), sort_keys=True, default=str), []).append(job)
    return list(groups.values())


def _train(ctx: StudyContext, jobs: list[TrialJob]) -> list[object]:
    """Each job's training result (its runs or the exception that stopped it): fused when possible, in as
    many models as memory needs."""
    train, val = (ctx.splits.x_train, ctx.splits.y_train), (ctx.splits.x_val, ctx.splits.y_val)
    if ctx.fuse and len(jobs) > 1:
        try:
            return train_groups(ctx.problem, ctx.architecture, [Group(j.hp, ctx.seeds, j.listener) for j in jobs],
                                train, val, keep_models=True)
        except TooWide as wide:
            per_model = wide.towers // len(ctx.seeds)
            if per_model > 1:
                return [result for i in range(0, len(jobs), per_model) for result in _train(ctx, jobs[i:i + per_model])]
        except Unfusable:
            pass
    results: list[object] = []
    for job in jobs:
        try:
            results.append(train_seeds(ctx.problem, ctx.architecture, job.hp, ctx.seeds, train, val,
                                       listener=job.listener, options=TrainOptions(keep_models=True, fuse=ctx.fuse)))
        except Exception as exc:  # noqa: BLE001 - the trial's own end, as study.optimize(catch=...) does
            results.append(exc)
    return results
