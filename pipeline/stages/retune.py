"""Retune stage: the book's update process as one unattended job (orchestration only).

1. new data (a fresh generator seed, or a newer CSV), versioned and recorded in MLflow;
2. the champion evaluated on it (the skill trend across retunes);
3. candidates: the champion trained on, with new data / old + new data; a new model of the
   champion's configuration on old + new; the best of a short Optuna study warm-started from the
   champion's configuration;
4. every candidate and a fair baseline (the champion trained the same extra epochs on old data)
   over repeated seeds on the same recent test data;
5. a candidate becomes champion only when better than the baseline on new data (a test of the mean
   item loss over the seeds and the test items) by at least the problem's margin, with the error held
   at alpha over every candidate tried (reports.stats.decide_promotion: Holm); otherwise the best one
   is kept as challenger with the evidence; the old champion stays as `previous` (rollback).

A candidate that continues the champion's weights is registered with the champion's configuration;
how it was produced (the candidate, its extra epochs) is recorded beside it (pipeline.champion).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from pipeline.champion import RETUNE_ROLE, Candidate, ChampionRecord, raw_examples, record_decision, register
from pipeline.champion.candidate import claims
from pipeline.champion.ensemble import members
from pipeline.champion.updates import BASELINE, Evidence, Plan, candidate_plans, old_plus_new, winner_record
from pipeline.errors import UsageError
from pipeline.problems import Problem, Splits, problem_from_state
from pipeline.problems.data_spec import DataSpec
from pipeline.report.candidates import evaluate_candidates
from pipeline.search.options import TuneSettings
from pipeline.search.progress import Progress
from pipeline.search.studies import RETUNE_OF, data_session, open_study
from pipeline.search.warm_start import ChampionFirst
from pipeline.settings import RetuneSettings
from pipeline.stores.locking import job_lock
from pipeline.stores.storage import silence_optuna
from pipeline.training.seeding import retune_seeds
from reports.stats import decide_promotion, fill_failed
from tracking.names import experiment_name, model_name
from tracking.packaging import load_parts, log_problem_model
from tracking.registry import CHAMPION, Registry, alias_uri
from tracking.run_tree import RunScope


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


@dataclass(frozen=True)
class RetuneJob:
    """One retune under way: its settings, run and registry, the champion, and the data: old, new (whose
    test part judges every candidate) and the new data's record."""

    settings: RetuneSettings
    run: RunScope
    registry: Registry
    champion: Champion
    problem: Problem
    old: Splits
    new: Splits
    new_data: DataSpec


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

    new_data = DataSpec(problem.params, {"n_train": len(new.x_train), "n_val": len(new.x_val),
                                         "n_test": len(new.x_test)}, new_seed)
    with tracker.run(experiment_id, f"retune-{settings.problem}", RETUNE_ROLE,
                     tags={"problem": settings.problem, "data_hash": data_hash, "data.seed": new_seed,
                           "champion_version": champion.version},
                     params={"repeats": settings.repeats, "extra_epochs": settings.extra_epochs,
                             "trials": settings.trials, "data": json.dumps(problem.describe(), default=str),
                             "n_train": len(new.x_train), "n_test": len(new.x_test)}) as run_id:
        job = RetuneJob(settings, RunScope(tracker, experiment_id, run_id), registry, champion, problem, old, new,
                        new_data)
        result = _evaluate_and_decide(job, len(previous))
        tracker.set_tags(run_id, {"decision": result.decision})
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


def _evaluate_and_decide(job: RetuneJob, index: int) -> RetuneResult:
    """The champion scored on the new test data (the `index`-th retune), the candidates trained and scored
    beside the fair baseline, and the decision: nothing registered, a challenger, or a new champion."""
    problem, run, champion = job.problem, job.run, job.champion
    metric = problem.metric
    champion_score = float(problem.evaluate(champion.model, job.new.x_test, job.new.y_test)[metric])
    run.tracker.log_metrics(run.run_id, {f"champion_test_{metric}": champion_score}, step=index)
    plans, candidates = _candidates(job)
    scores, failures = fill_failed({c.name: c.test_scores for c in candidates}, problem.direction)
    best = max(np.mean(v) for v in scores.values()) if problem.direction == "maximize" else \
        min(np.mean(v) for v in scores.values())
    items = claims(problem, candidates, problem.equivalence_margin(best))
    promotion = decide_promotion({n: v for n, v in scores.items() if n != BASELINE}, scores[BASELINE],
                                 problem.direction, job.settings.alpha, BASELINE, items, items.loss_margin)
    rule = promotion.rule + (f"; {failures}" if failures else "")
    run.tracker.log_dict(run.run_id, promotion.to_dict(), "statistics.json")
    run.tracker.log_text(run.run_id, promotion.to_markdown(), "statistics.md")
    for i, (name, values) in enumerate(scores.items()):
        run.log_metrics({f"candidate_{i}_test_{metric}_mean": float(np.mean(values))})
        run.set_tags({f"candidate_{i}": name})
        run.tracker.log_losses(run.run_id, items.losses[name], retune_seeds(job.settings.repeats),
                               f"test_losses_candidate_{i}.npz")
    winner = next(c for c in candidates if c.name == (promotion.winner or promotion.best))
    if not promotion.better and not problem.better(float(np.mean(scores[winner.name])),
                                                   float(np.mean(scores[BASELINE]))):
        decision = f"champion v{champion.version} kept: no candidate beat the fair baseline on average ({rule})"
        run.set_tags({"winner": BASELINE})
        return RetuneResult(problem.name, decision, False, None, champion_score, None, run.run_id)
    evidence = Evidence(scores[winner.name], retune_seeds(job.settings.repeats),
                        promotion.decision(winner.name).p_holm)
    return _register(job, winner, plans[winner.name], evidence, promotion.better, rule, champion_score)


def _candidates(job: RetuneJob) -> tuple[dict[str, Plan], list[Candidate]]:
    """The plans (the baseline and the candidates), each trained over the retune's seeds and scored on the
    new test data (pipeline.report.candidates.evaluate_candidates), with its first trained seed's model."""
    settings, champion = job.settings, job.champion
    architecture, hp = champion.record.architecture, champion.record.hp
    both = old_plus_new(job.old, job.new)
    tuned_hp = _warm_started_study(job, both)
    plans = candidate_plans(architecture, hp, tuned_hp, settings.extra_epochs, job.old, job.new, both)
    weights = members(champion.model)[0].get_weights()  # an ensemble champion continues its first seed model
    candidates = [Candidate(name, architecture, plan.hp, train=plan.train,
                            initial_weights=weights if plan.warm else None) for name, plan in plans.items()]
    evaluate_candidates(job.problem, job.new, candidates, retune_seeds(settings.repeats), settings.progress,
                        settings.fuse, keep_model=True)
    return plans, candidates


def _register(job: RetuneJob, winner: Candidate, plan: Plan, evidence: Evidence, promote: bool, rule: str,
              champion_score: float) -> RetuneResult:
    """The winner's model logged under the retune's run and registered: champion when `promote`, else
    challenger; the old champion stays `previous`."""
    problem, run, champion = job.problem, job.run, job.champion
    examples = raw_examples(problem, job.new.x_test[:3])
    uri = log_problem_model(run.tracker, run.run_id, winner.model, problem.state(), examples,
                            problem.predict_raw(winner.model, examples))
    record = winner_record(winner.name, plan, champion.record.architecture, problem, evidence, job.new_data,
                           run.run_id, champion.version)
    name = model_name(problem.name)
    version, _ = register(job.registry, name, uri, run.run_id, record, promote=promote)
    if promote:
        decision = f"v{version} ({winner.name}) promoted to champion: {rule}; v{champion.version} is now 'previous'"
    else:
        decision = f"v{version} ({winner.name}) kept as challenger: {rule}; champion v{champion.version} kept"
    record_decision(job.registry, name, version, decision)
    run.set_tags({"winner": winner.name, "p_value": evidence.p_value, "new_version": version})
    run.log_metrics({"p_value": evidence.p_value})
    return RetuneResult(problem.name, decision, promote, version, champion_score, evidence.p_value, run.run_id)


def _warm_started_study(job: RetuneJob, both: Splits) -> dict[str, Any] | None:
    """A short study on old + new data (pipeline.search.studies, its trials logged under the retune's run),
    the champion's configuration first; its best hp."""
    settings, problem, run = job.settings, job.problem, job.run
    if settings.trials < 1:
        return None
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    architecture, hp = job.champion.record.architecture, job.champion.record.hp
    options = TuneSettings(problem=problem.name, architectures=architecture, trials=settings.trials,
                           seeds=settings.tune_seeds, timeout=None, study_seed=0, pruner="median",
                           tag=f"retune-{run.run_id[:8]}", batch=1, storage=settings.storage,
                           tracking=settings.tracking, runs_dir=settings.runs_dir, progress=settings.progress,
                           fuse=settings.fuse)
    session = data_session(options, problem, job.new_data, both, settings.study_storage(), run.tracker,
                           ChampionFirst())
    pair = open_study(session, architecture, parent=run)
    pair.study.set_user_attr(RETUNE_OF, problem.name)  # not a tuned study: the report does not read it
    pair.study.enqueue_trial(session.spaces[architecture].restrict(hp))
    progress = Progress(pair.study.study_name, settings.trials, settings.progress)
    try:
        session.engine.run(pair.study, pair.ctx, settings.trials, None, progress)
    finally:
        progress.close()
    try:
        return {**hp, **pair.study.best_trial.user_attrs["hp"]}
    except ValueError:
        return None
