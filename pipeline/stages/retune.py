"""Retune stage: the book's update process as one unattended job (orchestration only).

1. new data (a fresh generator seed, or a newer CSV), versioned and recorded in MLflow;
2. the champion evaluated on it (the skill trend across retunes);
3. candidates: the champion trained on, with new data / old + new data; a new model of the
   champion's configuration on old + new; the best of a short Optuna study warm-started from the
   champion's configuration;
4. every candidate and a fair baseline (the champion trained the same extra epochs on old data)
   over repeated seeds on the same recent test data;
5. a candidate becomes champion only when significantly better than the baseline with the error held
   at alpha over every candidate tried (reports.stats.decide_promotion: Holm); otherwise the best one
   is kept as challenger with the evidence; the old champion stays as `previous` (rollback).

A candidate that continues the champion's weights is registered with the champion's configuration;
how it was produced (the candidate, its extra epochs) is recorded beside it (pipeline.champion).
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from tqdm import tqdm

from pipeline.champion import RETUNE_ROLE, ChampionRecord, raw_examples, record_decision, register
from pipeline.champion.ensemble import members
from pipeline.champion.updates import BASELINE, Plan, candidate_plans, old_plus_new, winner_record
from pipeline.errors import UsageError
from pipeline.stores.locking import job_lock
from pipeline.training.multi_seed import train_seeds
from pipeline.search.objective import Objective, StudyContext
from pipeline.problems import Problem, Splits, problem_from_state
from pipeline.problems.data_spec import DataSpec
from pipeline.training.seeding import retune_seeds, tuning_seeds
from pipeline.settings import RetuneSettings
from pipeline.stores.storage import silence_optuna
from pipeline.search.studies import trial_logging
from reports.stats import decide_promotion, fill_failed
from search_spaces.loader import load_space
from tracking.names import experiment_name, model_name
from tracking.packaging import load_parts, log_problem_model
from tracking.registry import CHAMPION, Registry, alias_uri


@dataclass
class RetuneResult:
    problem: str
    decision: str
    promoted: bool
    version: str | None
    champion_score: float | None
    p_value: float | None
    run_id: str | None


@dataclass(frozen=True)
class Champion:
    """The current champion: its version, registry record and Keras model."""

    version: str
    record: ChampionRecord
    model: Any


def fingerprint(splits: Splits) -> str:
    digest = hashlib.sha256()
    for array in (splits.x_train, splits.y_train, splits.x_val, splits.y_val, splits.x_test, splits.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def retune(settings: RetuneSettings) -> RetuneResult:
    with job_lock(settings.runs_dir, f"retune-{settings.problem}"):
        return _retune(settings)


def _retune(settings: RetuneSettings) -> RetuneResult:
    tracker = settings.tracker()
    registry = Registry(tracker)
    name = model_name(settings.problem)
    version = registry.alias(name, CHAMPION)
    if version is None:
        raise UsageError(f"no champion of '{settings.problem}' to retune; "
                         f"run `make report PROBLEM={settings.problem}` first")
    silence_optuna()
    keras_model, state = load_parts(alias_uri(name, CHAMPION))
    champion = Champion(str(version.version), ChampionRecord.from_tags(version.tags), keras_model)
    old_problem = problem_from_state(state)
    old = champion.record.data.splits(old_problem)
    experiment_id = tracker.experiment_id(experiment_name(settings.problem))
    previous = tracker.runs(experiment_id, RETUNE_ROLE)

    problem, new, new_seed = _new_data(settings, old_problem, champion.record.data, previous)
    data_hash = fingerprint(new)
    if data_hash == fingerprint(old) or any(r.data.tags.get("data_hash") == data_hash for r in previous):
        return RetuneResult(settings.problem, f"nothing changed (data {data_hash} already seen): champion "
                            f"v{champion.version} kept", False, None, None, None, None)

    run_id = tracker.start_run(experiment_id, f"retune-{settings.problem}", RETUNE_ROLE,
                               tags={"problem": settings.problem, "data_hash": data_hash, "data.seed": new_seed,
                                     "champion_version": champion.version},
                               params={"repeats": settings.repeats, "extra_epochs": settings.extra_epochs,
                                       "trials": settings.trials, "data": json.dumps(problem.describe(), default=str),
                                       "n_train": len(new.x_train), "n_test": len(new.x_test)})
    new_data = DataSpec(problem.params, {"n_train": len(new.x_train), "n_val": len(new.x_val),
                                         "n_test": len(new.x_test)}, new_seed)
    try:
        result = _evaluate_and_decide(settings, tracker, registry, run_id, experiment_id, problem, old, new,
                                      new_data, champion, len(previous))
    except BaseException as exc:
        tracker.end_run(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED",
                        {"reason": f"{type(exc).__name__}: {exc}"[:500]})
        raise
    tracker.end_run(run_id, tags={"decision": result.decision})
    return result


def _new_data(settings: RetuneSettings, old_problem: Problem, data: DataSpec, previous: list):
    if old_problem.name == "csv":
        if "path" not in settings.data:
            raise UsageError("retune of csv needs DATA=\"path=<newer file>.csv\"")
        state = {**old_problem.state(), "params": {**old_problem.params, **settings.data}}
        state.pop("preprocessing", None)  # refit the scaler on the newer file's training part
        problem = problem_from_state(state)
        return problem, problem.splits(), None
    used = {int(r.data.tags["data.seed"]) for r in previous if r.data.tags.get("data.seed", "").isdigit()}
    seed = settings.data_seed
    if seed is None:
        seed = max(used | {data.seed or 0}) + 1
    return old_problem, old_problem.splits(seed=seed, **data.sizes), seed


def _evaluate_and_decide(settings: RetuneSettings, tracker, registry: Registry, run_id: str, experiment_id: str,
                         problem: Problem, old: Splits, new: Splits, new_data: DataSpec, champion: Champion,
                         index: int) -> RetuneResult:
    metric, architecture, hp = problem.metric, champion.record.architecture, champion.record.hp
    champion_score = float(problem.evaluate(champion.model, new.x_test, new.y_test)[metric])
    tracker.log_metrics(run_id, {f"champion_test_{metric}": champion_score}, step=index)
    both = old_plus_new(old, new)
    tuned_hp = _warm_started_study(settings, tracker, experiment_id, run_id, problem, architecture, hp, both)
    plans = candidate_plans(architecture, hp, tuned_hp, settings.extra_epochs, old, new, both)
    seeds = retune_seeds(settings.repeats)
    weights = members(champion.model)[0].get_weights()  # an ensemble champion continues its first seed model
    raw, models = _train_candidates(settings, problem, architecture, plans, weights, seeds, new)
    scores, failures = fill_failed(raw, problem.direction)
    promotion = decide_promotion({n: v for n, v in scores.items() if n != BASELINE}, scores[BASELINE],
                                 problem.direction, settings.alpha, paired=True, baseline_name=BASELINE)
    rule = promotion.rule + (f"; {failures}" if failures else "")
    tracker.log_dict(run_id, promotion.to_dict(), "statistics.json")
    tracker.log_text(run_id, promotion.to_markdown(), "statistics.md")
    for i, (name, values) in enumerate(scores.items()):
        tracker.log_metrics(run_id, {f"candidate_{i}_test_{metric}_mean": float(np.mean(values))})
        tracker.set_tags(run_id, {f"candidate_{i}": name})
    winner = promotion.winner or promotion.best
    evidence = promotion.decision(winner)
    if not promotion.better and not problem.better(float(np.mean(scores[winner])), float(np.mean(scores[BASELINE]))):
        decision = f"champion v{champion.version} kept: no candidate beat the fair baseline on average ({rule})"
        tracker.set_tags(run_id, {"winner": BASELINE})
        return RetuneResult(problem.name, decision, False, None, champion_score, None, run_id)
    model = models[winner]
    examples = raw_examples(problem, new.x_test[:3])
    uri = log_problem_model(tracker, run_id, model, problem.state(), examples, problem.predict_raw(model, examples))
    record = winner_record(winner, plans[winner], architecture, problem, scores[winner], seeds, new_data, run_id,
                           champion.version, evidence.p_holm)
    name = model_name(problem.name)
    version, _ = register(registry, name, uri, run_id, record, promote=promotion.better)
    if promotion.better:
        decision = f"v{version} ({winner}) promoted to champion: {rule}; v{champion.version} is now 'previous'"
    else:
        decision = f"v{version} ({winner}) kept as challenger: {rule}; champion v{champion.version} kept"
    record_decision(registry, name, version, decision)
    tracker.set_tags(run_id, {"winner": winner, "p_value": evidence.p_holm, "new_version": version})
    tracker.log_metrics(run_id, {"p_value": evidence.p_holm})
    return RetuneResult(problem.name, decision, promotion.better, version, champion_score, evidence.p_holm, run_id)


def _train_candidates(settings: RetuneSettings, problem: Problem, architecture: str, plans: dict[str, Plan],
                      weights: list, seeds: list[int], new: Splits) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Each plan over the seeds, scored on the new test data (nan for a seed that diverged); its first
    trained seed's model, by name."""
    scores: dict[str, list[float]] = {}
    models: dict[str, Any] = {}
    bar = tqdm(total=len(plans) * len(seeds), desc="retune candidates", unit="run", file=sys.stderr,
               disable=not settings.progress, dynamic_ncols=True)
    for name, plan in plans.items():
        runs = train_seeds(problem, architecture, plan.hp, seeds, plan.train, (new.x_val, new.y_val),
                           keep_models=True, initial_weights=weights if plan.warm else None, fuse=settings.fuse,
                           record_failures=True)
        scores[name] = [math.nan if run.failure else float(problem.evaluate(run.model, new.x_test, new.y_test)
                                                           [problem.metric]) for run in runs]
        models[name] = next((run.model for run in runs if not run.failure), None)
        bar.update(len(runs))
    bar.close()
    return scores, models


def _warm_started_study(settings: RetuneSettings, tracker, experiment_id: str, parent: str, problem: Problem,
                        architecture: str, hp: dict[str, Any], both: Splits) -> dict[str, Any] | None:
    """A short study on old + new data, the champion's configuration enqueued first; its best hp."""
    if settings.trials < 1:
        return None
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = load_space(architecture, problem.name)
    study = optuna.create_study(storage=settings.study_storage(),
                                study_name=f"{problem.name}-{architecture}-retune-{parent[:8]}",
                                direction=problem.direction,
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    study.set_user_attr("retune_of", problem.name)
    study.enqueue_trial(space.restrict(hp))
    trial_log = trial_logging(tracker, experiment_id, parent, study.study_name, problem.metric,
                              {"problem": problem.name, "architecture": architecture})
    ctx = StudyContext(problem, both, architecture, space, tuning_seeds(0, settings.tune_seeds), trial_log,
                       fuse=settings.fuse)
    study.optimize(Objective(ctx), n_trials=settings.trials, catch=(Exception,))
    try:
        return {**hp, **study.best_trial.user_attrs["hp"]}
    except ValueError:
        return None
