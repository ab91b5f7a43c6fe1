"""The studies of one tune invocation: its session (inputs checked, stores, data, seeds), opening
each pair's study with its MLflow parent run (idempotent: workers and resumptions open the same),
and the pair's summary; the stored studies of a problem (the report's candidates, the warm start)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import optuna

from search_spaces import references
from pipeline.search.engines import Engine, get_engine
from pipeline.errors import UsageError
from pipeline.search.objective import StudyContext, TrialLogFactory
from pipeline.search.options import TuneSettings, check_engine
from pipeline.problems import Problem, Splits, get_problem
from pipeline.problems.data_spec import DataSpec
from pipeline.search.pruning import make_pruner
from pipeline.training.seeding import tuning_seeds
from pipeline.search.warm_start import earlier_best
from pipeline.stores.storage import silence_optuna
from search_spaces.loader import SearchSpace, load_space
from tracking.datasets import SplitDatasets, split_datasets
from tracking.names import experiment_name
from tracking.tracker import Tracker, mask_credentials
from tracking.outbox import replay
from tracking.run_tree import RunScope, close_stale_trial_runs, open_study_run, trial_runs


RETUNE_OF = "retune_of"  # study user attr of a retune's short study (the problem): not a tuned study


@dataclass
class Session:
    """What every study of one invocation shares; built once per process (launcher or worker), or over data
    in hand (data_session: a retune's short study)."""

    settings: TuneSettings
    engine: Engine
    problem: Problem
    data: DataSpec
    architectures: list[str]
    spaces: dict[str, SearchSpace]
    seeds: list[int]
    storage: Any
    tracker: Tracker
    splits: Splits
    experiment: str
    experiment_id: str
    data_tags: dict[str, Any]
    datasets: SplitDatasets  # the splits as MLflow datasets, logged on the study's and every trial's run


@dataclass
class PairStudy:
    """A pair's opened study, the context its trials run in, and its parent run (ended by the launcher)."""

    study: optuna.Study
    ctx: StudyContext
    run: RunScope


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


def session(settings: TuneSettings) -> Session:
    """Validate every input first (nothing is written on bad input), then open stores and data."""
    if min(settings.trials, settings.seeds, settings.workers, settings.batch) < 1:
        raise UsageError("TRIALS, SEEDS, WORKERS and BATCH must be at least 1")
    check_engine(settings.engine, settings.kt_algorithm, settings.workers, settings.sampler)
    embedded = [name for name, url in (("STORAGE", settings.storage), ("TRACKING", settings.tracking))
                if url is None or url.startswith("sqlite")]
    if settings.workers > 1 and embedded:
        raise UsageError(f"WORKERS={settings.workers} needs database servers, not the embedded SQLite stores "
                         f"({', '.join(embedded)}): e.g. STORAGE=postgresql://postgres@127.0.0.1:5432/optuna "
                         "TRACKING=postgresql://postgres@127.0.0.1:5432/mlflow (docs/workers.md)")
    engine = get_engine(settings)
    options = DataSpec.from_options(settings.data, settings.data_seed)
    problem = get_problem(settings.problem, **options.params)
    data = options.with_problem(problem)
    for arch in references.resolve_architectures(problem.name, settings.architectures):
        load_space(arch, problem.name, settings.space)
    make_pruner(settings.pruner, 1)
    tuning_seeds(settings.study_seed, settings.seeds)
    # Check a remote store before creating an embedded one: bad input writes nothing.
    if settings.tracking:
        tracker = settings.tracker()
        storage = settings.study_storage()
    else:
        storage = settings.study_storage()
        tracker = settings.tracker()
    replay(tracker, tracker.outbox)  # trial logging that waited out a tracking outage (tracking.outbox)
    silence_optuna()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return data_session(settings, problem, data, data.splits(problem), storage, tracker, engine)


def data_session(settings: TuneSettings, problem: Problem, data: DataSpec, splits: Splits, storage: Any,
                 tracker: Tracker, engine: Engine | None = None) -> Session:
    """The Session of `settings` over data in hand (`splits`, which `data` describes: the retune trains on
    old + new data), on open stores; `engine` in place of the one the settings name."""
    architectures = references.resolve_architectures(problem.name, settings.architectures)
    experiment = experiment_name(problem.name)
    data_tags = {f"data.{k}": v for k, v in problem.describe().items()} | {
        "data.seed": data.seed, "data.n_train": len(splits.x_train), "data.n_val": len(splits.x_val)}
    return Session(settings, engine or get_engine(settings), problem, data, architectures,
                   {arch: load_space(arch, problem.name, settings.space) for arch in architectures},
                   tuning_seeds(settings.study_seed, settings.seeds), storage, tracker, splits, experiment,
                   tracker.experiment_id(experiment), data_tags, split_datasets(problem, data, splits))


def stored_studies(storage: Any, problem: str, architecture: str | None = None,
                   exclude: str | None = None) -> list[optuna.Study]:
    """The studies of `problem` (and of `architecture`, when given) in the storage that hold at least one
    complete trial, in the storage's order; `exclude` and retunes' short studies (RETUNE_OF) left out."""
    studies = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if (summary.study_name == exclude or RETUNE_OF in attrs or attrs.get("problem") != problem
                or architecture not in (None, attrs.get("architecture"))):
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        if study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            studies.append(study)
    return studies


def study_name(problem: str, arch: str, settings: TuneSettings) -> str:
    """<problem>-<arch>[-kt-<algorithm>][-<tag>]: each engine and algorithm keeps its own study."""
    suffix = get_engine(settings).suffix
    return f"{problem}-{arch}{suffix}" + (f"-{settings.tag}" if settings.tag else "")


def trial_logging(study: RunScope, study_name: str, metric: str, tags: dict[str, Any],
                  datasets: SplitDatasets) -> TrialLogFactory:
    """StudyContext's `trial_log`: each trial an MLflow run nested under the `study` run (tagged with
    `tags`, "study": study_name and the trial's own tags, its inputs the tuning datasets), each seed a run
    under it; the summary metrics are named val_<metric>_mean/std/sem."""
    return trial_runs(study, study_name, metric, tags, datasets.tuning())


def open_study(s: Session, arch: str, parent: RunScope | None = None) -> PairStudy:
    """Create or load the pair's study, its parent run and its reference trial (idempotent). The trials
    log under `parent` when given (a retune's run), else under the study's own run (opened or reopened).

    The engine decides the sampler, whether the chosen pruner applies, whether the study starts with
    the reference trial, and how trials left RUNNING are cleared (pipeline.search.engines).
    """
    settings, problem, space, engine = s.settings, s.problem, s.spaces[arch], s.engine
    name = study_name(problem.name, arch, settings)
    study = optuna.create_study(
        study_name=name, storage=s.storage, direction=problem.direction, load_if_exists=True,
        sampler=engine.sampler(settings.study_seed),
        pruner=make_pruner(settings.pruner if engine.prunes else "none", int(space.max_value("epochs")),
                           len(s.seeds)))
    _check_or_set_fingerprint(study, {"seeds": s.seeds, "data": {k: str(v) for k, v in s.data_tags.items()},
                                      "space": space.fingerprint(), "direction": problem.direction})
    attrs = {"problem": problem.name, "architecture": arch, "engine": engine.name, "data": s.data.to_dict(),
             **engine.attrs}
    for key, value in attrs.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    tags = {"problem": problem.name, "architecture": arch, "engine": engine.name}
    params = {"seeds": s.seeds, "space": space.source, "space_fingerprint": space.fingerprint(),
              "storage": mask_credentials(s.storage.url), "metric": problem.metric, "direction": problem.direction,
              **engine.attrs}
    run = parent or open_study_run(s.tracker, s.experiment_id, name, study.user_attrs.get("mlflow_parent_run_id"),
                                   tags={**tags, "study": name, **s.data_tags}, params=params,
                                   inputs=s.datasets.tuning())
    if study.user_attrs.get("mlflow_parent_run_id") != run.run_id:
        study.set_user_attr("mlflow_parent_run_id", run.run_id)
    optuna.storages.fail_stale_trials(study)
    engine.clear_running(study)
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    close_stale_trial_runs(run, {t.number for t in running})
    if not study.trials and engine.reference_trial:
        study.enqueue_trial(references.reference_params(problem.name, space), user_attrs={"reference": True})
        for source, params in earlier_best(stored_studies(s.storage, problem.name, arch, exclude=name), space):
            study.enqueue_trial(params, user_attrs={"warm_start": source}, skip_if_exists=True)
    trial_log = trial_logging(run, name, problem.metric, tags, s.datasets)
    ctx = StudyContext(problem, s.splits, arch, space, s.seeds, trial_log, settings.racing_alpha, fuse=settings.fuse)
    return PairStudy(study, ctx, run)


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


def pair_result(study: optuna.Study, arch: str, seconds: float) -> PairResult:
    """The pair's summary: its best trial (value ± std over seeds), the reference, trial counts."""
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
