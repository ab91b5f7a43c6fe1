"""Tune stage: one Optuna study per architecture/problem pair, every trial over several seeds."""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import tensorflow as tf
from tqdm import tqdm

from pipeline import interrupts, references
from pipeline.engines import KERAS_TUNER, OPTUNA, STARTUP_TRIALS, check_engine
from pipeline.errors import UsageError
from pipeline.settings import JobSettings
from pipeline.objective import Objective, StudyContext
from pipeline.problems import get_problem
from pipeline.seeding import tuning_seeds
from pipeline.storage import DEFAULT_RUNS_DIR, optuna_storage, silence_optuna, tracker_for
from search_spaces.loader import load_space
from tracking.tracker import STUDY, TRIAL, mask_credentials

SIZE_KEYS = ("n_train", "n_val", "n_test")
MAX_ERRORS_IN_A_ROW = 3
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


@dataclass
class TuneSettings(JobSettings):
    problem: str
    architectures: str | None = None  # None/"all" = every valid architecture
    trials: int = 20  # new trials per study in this invocation
    seeds: int = 3
    timeout: float | None = 600.0  # seconds for the whole invocation, shared by the studies
    space: str | None = None  # a user's YAML file (applies to every architecture chosen)
    study_seed: int = 0  # seeds the sampler and the list of training seeds
    data: dict[str, str] = field(default_factory=dict)  # problem parameters and n_train/n_val/n_test
    data_seed: int = 0
    pruner: str = "median"  # median | none
    racing_alpha: float = 0.05
    tag: str | None = None  # appended to study names, to keep separate studies of the same pair
    workers: int = 1  # local worker processes sharing each study
    engine: str = OPTUNA  # optuna | keras-tuner: which library picks the configurations
    kt_algorithm: str = "random"  # keras-tuner engine: random | hyperband | bayesian


@dataclass
class PairResult:
    architecture: str
    study_name: str
    direction: str
    best_value: float | None
    best_std: float | None
    best_trial: int | None
    best_params: dict[str, Any]
    reference_value: float | None
    complete: int
    pruned: int
    failed: int
    seconds: float


@dataclass
class TuneResult:
    problem: str
    metric: str
    experiment: str
    storage: str
    tracking: str
    pairs: list[PairResult]
    interrupted: bool = False
    stopped_reason: str | None = None


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        # Warm-up of one seed's worth of steps: no configuration is pruned on one seed alone.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max_epochs)
    raise UsageError(f"unknown pruner '{name}'; choose one of: median, none")


@dataclass
class _Session:
    """What every study of one invocation shares; built once per process (launcher or worker)."""

    settings: TuneSettings
    problem: Any
    sizes: dict[str, int]
    architectures: list[str]
    spaces: dict[str, Any]
    storage: Any
    tracker: Any
    splits: Any
    experiment: str
    experiment_id: str
    seeds: list[int]
    data_tags: dict[str, Any]


def _session(settings: TuneSettings) -> _Session:
    """Validate every input first (nothing is written on bad input), then open stores and data."""
    if settings.trials < 1 or settings.seeds < 1 or settings.workers < 1:
        raise UsageError("TRIALS, SEEDS and WORKERS must be at least 1")
    check_engine(settings.engine, settings.kt_algorithm, settings.workers)
    sizes = {k: int(v) for k, v in settings.data.items() if k in SIZE_KEYS}
    problem = get_problem(settings.problem, **{k: v for k, v in settings.data.items() if k not in SIZE_KEYS})
    architectures = references.resolve_architectures(problem.name, settings.architectures)
    spaces = {arch: load_space(arch, problem.name, settings.space) for arch in architectures}
    make_pruner(settings.pruner, 1)
    # Check a remote store before creating an embedded one: bad input writes nothing.
    if settings.tracking:
        tracker = tracker_for(settings.tracking, settings.runs_dir)
        storage = optuna_storage(settings.storage, settings.runs_dir)
    else:
        storage = optuna_storage(settings.storage, settings.runs_dir)
        tracker = tracker_for(settings.tracking, settings.runs_dir)
    silence_optuna()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    splits = problem.splits(seed=settings.data_seed, **sizes)
    experiment = f"lstm-{problem.name}"
    data_tags = {f"data.{k}": v for k, v in problem.describe().items()} | {
        "data.seed": settings.data_seed, "data.n_train": len(splits.x_train), "data.n_val": len(splits.x_val)}
    return _Session(settings, problem, sizes, architectures, spaces, storage, tracker, splits, experiment,
                    tracker.experiment_id(experiment), tuning_seeds(settings.study_seed, settings.seeds), data_tags)


def study_name(problem: str, arch: str, settings: TuneSettings) -> str:
    """<problem>-<arch>[-kt-<algorithm>][-<tag>]: each engine and algorithm keeps its own study."""
    engine = f"-kt-{settings.kt_algorithm}" if settings.engine == KERAS_TUNER else ""
    return f"{problem}-{arch}{engine}" + (f"-{settings.tag}" if settings.tag else "")


def _open_study(s: _Session, arch: str) -> tuple[optuna.Study, StudyContext]:
    """Create or load the pair's study, its parent run and its reference trial (idempotent).

    With the keras-tuner engine KerasTuner picks every configuration (enqueued, so the sampler is never
    consulted) and sets the budget (no Optuna pruner), and the study has no reference trial: an enqueued
    reference would be asked in place of KerasTuner's first trial.
    """
    settings, problem, space = s.settings, s.problem, s.spaces[arch]
    kt = settings.engine == KERAS_TUNER
    name = study_name(problem.name, arch, settings)
    sampler = (optuna.samplers.RandomSampler(seed=settings.study_seed) if kt else
               optuna.samplers.TPESampler(seed=settings.study_seed, n_startup_trials=STARTUP_TRIALS,
                                          multivariate=True, constant_liar=True))
    study = optuna.create_study(
        study_name=name, storage=s.storage, direction=problem.direction, load_if_exists=True, sampler=sampler,
        pruner=make_pruner("none" if kt else settings.pruner, int(space.max_value("epochs"))))
    _check_or_set_fingerprint(study, {"seeds": s.seeds, "data": {k: str(v) for k, v in s.data_tags.items()},
                                      "space": space.fingerprint(), "direction": problem.direction})
    attrs = {"problem": problem.name, "architecture": arch, "engine": settings.engine,
             "data": {"params": problem.params, "sizes": s.sizes, "seed": settings.data_seed}}
    if kt:
        attrs["algorithm"] = settings.kt_algorithm
    for key, value in attrs.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    tags = {"problem": problem.name, "architecture": arch, "engine": settings.engine}
    params = {"seeds": s.seeds, "space": space.source, "space_fingerprint": space.fingerprint(),
              "storage": mask_credentials(s.storage.url), "metric": problem.metric, "direction": problem.direction}
    if kt:
        params["algorithm"] = settings.kt_algorithm
    parent = _parent_run(study, s.tracker, s.experiment_id, name, tags={**tags, "study": name, **s.data_tags},
                         params=params)
    optuna.storages.fail_stale_trials(study)
    if kt:  # one process per keras-tuner study, without heartbeats: a RUNNING trial is a dead process's
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    _close_stale_runs(study, s.tracker, s.experiment_id, parent)
    if not study.trials and not kt:
        study.enqueue_trial(references.reference_params(problem.name, space), user_attrs={"reference": True})
    ctx = StudyContext(problem, s.splits, arch, space, s.seeds, s.tracker, s.experiment_id, parent, name,
                       settings.racing_alpha, tags=tags, fuse=settings.fuse)
    return study, ctx


def _finished(study: optuna.Study, running: bool = False) -> int:
    states = FINISHED + ((optuna.trial.TrialState.RUNNING,) if running else ())
    return len(study.get_trials(deepcopy=False, states=states))


def tune(settings: TuneSettings) -> TuneResult:
    """Run (or continue) one study per architecture of the problem; return a summary."""
    s = _session(settings)
    result = TuneResult(s.problem.name, s.problem.metric, s.experiment, mask_credentials(s.storage.url),
                        mask_credentials(s.tracker.uri), [])
    deadline = time.monotonic() + settings.timeout if settings.timeout else None
    for index, arch in enumerate(s.architectures):
        study, ctx = _open_study(s, arch)
        timeout = None
        if deadline is not None:
            timeout = max(1.0, (deadline - time.monotonic()) / (len(s.architectures) - index))
        ctx.deadline = None if timeout is None else time.monotonic() + timeout
        start = time.perf_counter()
        progress = _Progress(study.study_name, settings.trials, settings.progress)
        try:
            if settings.engine == KERAS_TUNER:
                from pipeline.engines.keras_tuner import search

                search(study, ctx, settings.kt_algorithm, settings.trials, settings.study_seed,
                       settings.runs_dir / "keras_tuner", progress)
            elif settings.workers == 1:
                study.optimize(Objective(ctx), n_trials=settings.trials, timeout=timeout, callbacks=[progress],
                               catch=(Exception,), gc_after_trial=False)
            else:
                _run_workers(settings, arch, _finished(study) + settings.trials, timeout, study, progress)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            progress.close()
            s.tracker.end_run(ctx.parent_run_id, "KILLED" if result.interrupted else "FINISHED")
        result.pairs.append(_pair_result(study, arch, time.perf_counter() - start))
        if progress.stopped_reason:
            result.stopped_reason = progress.stopped_reason
        if result.interrupted:
            break
    return result


def _run_workers(settings: TuneSettings, arch: str, target: int, timeout: float | None, study: optuna.Study,
                 progress: "_Progress") -> None:
    """Start `workers` processes on the study until `target` trials have finished; show progress."""
    context = multiprocessing.get_context("spawn")
    worker_settings = replace(settings, architectures=arch, workers=1, progress=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # not on macOS
    threads = max(1, cores // settings.workers)
    procs = [context.Process(target=_worker_main, args=(worker_settings, arch, target, timeout, threads),
                             daemon=False) for _ in range(settings.workers)]
    for proc in procs:
        proc.start()
    try:
        seen = _finished(study)
        while any(p.is_alive() for p in procs):
            time.sleep(1.0)
            trials = study.get_trials(deepcopy=False, states=FINISHED)
            for trial in sorted(trials, key=lambda t: t.number)[seen:]:
                progress(study, trial)
            seen = len(trials)
    finally:
        for proc in procs:
            proc.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if failed:
        progress.bar.write(f"  {len(failed)} worker(s) exited with codes {failed}; their trials are retried "
                           "on the next run")


def _worker_main(settings: TuneSettings, arch: str, target: int, timeout: float | None, threads: int) -> None:
    """One worker process: trials on the shared study until `target` have finished (or are running).

    Local workers share the cores: each gets its share of TensorFlow threads, so that they don't
    compete for the same cores (small LSTM steps gain little from a second thread anyway).
    """
    interrupts.install()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    s = _session(settings)
    study, ctx = _open_study(s, arch)
    ctx.deadline = None if timeout is None else time.monotonic() + timeout
    stop = optuna.study.MaxTrialsCallback(target, states=FINISHED + (optuna.trial.TrialState.RUNNING,))
    if _finished(study, running=True) >= target:
        return
    try:
        study.optimize(Objective(ctx), n_trials=None, timeout=timeout, callbacks=[stop], catch=(Exception,),
                       gc_after_trial=False)
    except KeyboardInterrupt:
        pass


def _check_or_set_fingerprint(study: optuna.Study, fingerprint: dict[str, Any]) -> None:
    """A resumed study must train on the same seeds, data and space, or its trials don't compare."""
    old = study.user_attrs.get("fingerprint")
    if old is None:
        study.set_user_attr("fingerprint", fingerprint)
        return
    changed = [k for k in fingerprint if old.get(k) != fingerprint[k]]
    if changed:
        raise UsageError(f"study '{study.study_name}' exists with different {', '.join(changed)}; "
                         "pass TAG=<name> to start a separate study, or use the original settings")


def _parent_run(study, tracker, experiment_id: str, name: str, tags: dict, params: dict) -> str:
    """The study's one parent run, shared by every worker and every resumption (id kept in the study)."""
    run_id = study.user_attrs.get("mlflow_parent_run_id")
    if tracker.run_exists(run_id):
        tracker.reopen(run_id)
        return run_id
    run_id = tracker.start_run(experiment_id, name, STUDY, tags=tags, params=params)
    study.set_user_attr("mlflow_parent_run_id", run_id)
    return run_id


def _close_stale_runs(study, tracker, experiment_id: str, parent: str) -> None:
    """Trial runs left RUNNING by a worker that died: marked KILLED once Optuna has failed the trial."""
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    for run in tracker.children(experiment_id, parent, role=TRIAL, status="RUNNING"):
        number = int(run.data.tags.get("trial", -1))
        if states.get(number) == optuna.trial.TrialState.RUNNING:
            continue
        for seed_run in tracker.children(experiment_id, run.info.run_id, status="RUNNING"):
            tracker.end_run(seed_run.info.run_id, "KILLED", {"state": "FAIL", "reason": "worker died"})
        tracker.end_run(run.info.run_id, "KILLED", {"state": "FAIL", "reason": "worker died"})


class _Progress:
    """Optuna callback: a bar over trials with the best value; one line per failure."""

    def __init__(self, name: str, total: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc=name, unit="trial", disable=not enabled, file=sys.stderr,
                        dynamic_ncols=True, leave=True)
        self.errors_in_a_row = 0
        self.stopped_reason: str | None = None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        counts = {s: 0 for s in ("COMPLETE", "PRUNED", "FAIL")}
        for t in study.get_trials(deepcopy=False):
            if t.state.name in counts:
                counts[t.state.name] += 1
        postfix = {"done": counts["COMPLETE"], "pruned": counts["PRUNED"], "failed": counts["FAIL"]}
        try:
            postfix = {"best": f"{study.best_value:.4g}", **postfix}
        except ValueError:
            pass
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)
        if trial.state == optuna.trial.TrialState.FAIL:
            reason = trial.user_attrs.get("reason", "unknown error")
            self.bar.write(f"  trial {trial.number} failed: {reason}")
            self.errors_in_a_row = self.errors_in_a_row + 1 if trial.user_attrs.get("fail_kind") == "error" else 0
            if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                self.stopped_reason = f"{MAX_ERRORS_IN_A_ROW} trials in a row failed with errors; last: {reason}"
                try:
                    study.stop()
                except RuntimeError:  # called from the launcher's poll loop, outside optimize()
                    pass
        else:
            self.errors_in_a_row = 0

    def close(self) -> None:
        self.bar.close()


def _pair_result(study: optuna.Study, arch: str, seconds: float) -> PairResult:
    trials = study.get_trials(deepcopy=False)
    count = lambda state: sum(t.state == state for t in trials)  # noqa: E731
    reference = next((t for t in trials if t.user_attrs.get("reference")
                      and t.state == optuna.trial.TrialState.COMPLETE), None)
    try:
        best = study.best_trial
    except ValueError:
        best = None
    return PairResult(
        architecture=arch, study_name=study.study_name, direction=study.direction.name.lower(),
        best_value=best.value if best else None, best_std=best.user_attrs.get("std") if best else None,
        best_trial=best.number if best else None, best_params=dict(best.params) if best else {},
        reference_value=reference.value if reference else None,
        complete=count(optuna.trial.TrialState.COMPLETE), pruned=count(optuna.trial.TrialState.PRUNED),
        failed=count(optuna.trial.TrialState.FAIL), seconds=seconds)


def format_summary(result: TuneResult) -> str:
    """A table per pair: best ± std, the reference, trial counts, time; and where to look."""
    lines = [f"\nproblem {result.problem} — metric: validation {result.metric}",
             f"{'study':<32} {'best ± std':>18} {'reference':>10} {'trial':>5} {'done':>5} {'pruned':>6} "
             f"{'failed':>6} {'time':>7}"]
    for p in result.pairs:
        best = f"{p.best_value:.4f} ± {p.best_std or 0:.4f}" if p.best_value is not None else "—"
        ref = f"{p.reference_value:.4f}" if p.reference_value is not None else "—"
        lines.append(f"{p.study_name:<32} {best:>18} {ref:>10} {str(p.best_trial):>5} {p.complete:>5} "
                     f"{p.pruned:>6} {p.failed:>6} {p.seconds:>6.0f}s")
    lines.append(f"Optuna storage: {result.storage}")
    lines.append(f"MLflow: {result.tracking}, experiment '{result.experiment}' (make ui)")
    if result.stopped_reason:
        lines.append(f"stopped: {result.stopped_reason}")
    if result.interrupted:
        lines.append("interrupted: finished trials are kept; rerun the same command to continue")
    return "\n".join(lines)
