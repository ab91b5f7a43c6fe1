"""Scheduled retuning (the book's update process) as one unattended job.

1. new data (a fresh generator seed, or a newer CSV), versioned and recorded in MLflow;
2. the champion evaluated on it (the skill trend across retunes);
3. candidates: the champion trained on, with new data / old + new data; a new model of the
   champion's configuration on old + new; the best of a short Optuna study warm-started from the
   champion's configuration;
4. every candidate and a fair baseline (the champion trained the same extra epochs on old data)
   over repeated seeds on the same recent test data, with the report stage's statistics;
5. the winner becomes champion only when significantly better than the baseline; otherwise it is
   kept as challenger with the evidence; the old champion stays as `previous` (rollback).
"""
from __future__ import annotations

import hashlib
import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from tqdm import tqdm

from pipeline.errors import UsageError
from pipeline.settings import JobSettings
from pipeline.locking import job_lock
from pipeline.objective import Objective, StudyContext
from pipeline.problems import Problem, Splits, problem_from_state
from pipeline.stages.finalize import config_key, raw_examples
from pipeline.seeding import retune_seeds, tuning_seeds
from pipeline.storage import DEFAULT_RUNS_DIR, optuna_storage, silence_optuna, tracker_for
from pipeline.multi_seed import train_seeds
from reports.stats import compare, significantly_better
from search_spaces.loader import load_space
from tracking.packaging import load_parts, log_problem_model
from tracking.registry import CHALLENGER, CHAMPION, Registry, model_name

BASELINE = "baseline (champion + extra epochs on old data)"


@dataclass
class RetuneSettings(JobSettings):
    problem: str
    data: dict[str, str] = field(default_factory=dict)  # csv: path=<newer file>
    data_seed: int | None = None  # synthetic problems: default = a seed no earlier retune used
    repeats: int = 10
    extra_epochs: int = 5
    trials: int = 4  # the short warm-started study
    tune_seeds: int = 2
    alpha: float = 0.05


@dataclass
class RetuneResult:
    problem: str
    decision: str
    promoted: bool
    version: str | None
    champion_score: float | None
    p_value: float | None
    run_id: str | None


def fingerprint(splits: Splits) -> str:
    digest = hashlib.sha256()
    for array in (splits.x_train, splits.y_train, splits.x_val, splits.y_val, splits.x_test, splits.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def retune(settings: RetuneSettings) -> RetuneResult:
    with job_lock(settings.runs_dir, f"retune-{settings.problem}"):
        return _retune(settings)


def _retune(settings: RetuneSettings) -> RetuneResult:
    tracker = tracker_for(settings.tracking, settings.runs_dir)
    registry = Registry(tracker)
    name = model_name(settings.problem)
    champion = registry.alias(name, CHAMPION)
    if champion is None:
        raise UsageError(f"no champion of '{settings.problem}' to retune; run `make report PROBLEM={settings.problem}` first")
    silence_optuna()
    keras_model, state = load_parts(f"models:/{name}@{CHAMPION}")
    architecture, hp = json.loads(champion.tags["config"])
    data_spec = json.loads(champion.tags["data"])
    old_problem = problem_from_state(state)
    old = old_problem.splits(seed=data_spec["seed"], **data_spec["sizes"])
    experiment_id = tracker.experiment_id(f"lstm-{settings.problem}")
    previous = tracker.client.search_runs([experiment_id], "tags.role = 'retune'", max_results=1000)

    problem, new, new_seed = _new_data(settings, old_problem, data_spec, previous)
    data_hash = fingerprint(new)
    if data_hash == fingerprint(old) or any(r.data.tags.get("data_hash") == data_hash for r in previous):
        return RetuneResult(settings.problem, f"nothing changed (data {data_hash} already seen): champion "
                            f"v{champion.version} kept", False, None, None, None, None)

    run_id = tracker.start_run(experiment_id, f"retune-{settings.problem}", "retune",
                               tags={"problem": settings.problem, "data_hash": data_hash, "data.seed": new_seed,
                                     "champion_version": champion.version},
                               params={"repeats": settings.repeats, "extra_epochs": settings.extra_epochs,
                                       "trials": settings.trials, "data": json.dumps(problem.describe(), default=str),
                                       "n_train": len(new.x_train), "n_test": len(new.x_test)})
    try:
        result = _evaluate_and_decide(settings, tracker, registry, run_id, experiment_id, problem, old, new,
                                      keras_model, architecture, hp, champion, len(previous))
    except BaseException as exc:
        tracker.end_run(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED",
                        {"reason": f"{type(exc).__name__}: {exc}"[:500]})
        raise
    tracker.end_run(run_id, tags={"decision": result.decision})
    return result


def _new_data(settings: RetuneSettings, old_problem: Problem, data_spec: dict, previous: list):
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
        seed = max(used | {int(data_spec["seed"])}) + 1
    return old_problem, old_problem.splits(seed=seed, **data_spec["sizes"]), seed


def _evaluate_and_decide(settings, tracker, registry, run_id, experiment_id, problem: Problem, old: Splits,
                         new: Splits, keras_model, architecture: str, hp: dict, champion, index: int) -> RetuneResult:
    metric = problem.metric
    champion_score = float(problem.evaluate(keras_model, new.x_test, new.y_test)[metric])
    tracker.log_metrics(run_id, {f"champion_test_{metric}": champion_score}, step=index)
    weights = keras_model.get_weights()
    both = (np.concatenate([old.x_train, new.x_train]), np.concatenate([old.y_train, new.y_train]))
    val = (new.x_val, new.y_val)
    extra = {**hp, "epochs": settings.extra_epochs, "patience": 0}
    tuned_hp = _warm_started_study(settings, tracker, experiment_id, run_id, problem, architecture, hp, both, new)
    plans = {  # name -> (hyperparameters, training data, start from the champion's weights?)
        BASELINE: (extra, (old.x_train, old.y_train), True),
        "continue on new data": (extra, (new.x_train, new.y_train), True),
        "continue on old + new data": (extra, both, True),
        "new model, champion's configuration, old + new data": (hp, both, False),
    }
    if tuned_hp is not None and config_key(architecture, tuned_hp) != config_key(architecture, hp):
        plans["new model, retuned configuration, old + new data"] = (tuned_hp, both, False)
    seeds = retune_seeds(settings.repeats)
    scores: dict[str, list[float]] = {}
    first_models: dict[str, Any] = {}
    bar = tqdm(total=len(plans) * len(seeds), desc="retune candidates", unit="run", file=sys.stderr,
               disable=not settings.progress, dynamic_ncols=True)
    for name, (cand_hp, train, warm) in plans.items():
        runs = train_seeds(problem, architecture, cand_hp, seeds, train, val, keep_models=True,
                           initial_weights=weights if warm else None, fuse=settings.fuse)
        scores[name] = [float(problem.evaluate(run.model, new.x_test, new.y_test)[metric]) for run in runs]
        first_models[name] = (runs[0].model, cand_hp)
        bar.update(len(runs))
    bar.close()
    comparison = compare(scores, problem.direction, alpha=settings.alpha, paired=True)
    winner = comparison.winner
    tracker.log_dict(run_id, comparison.to_dict(), "statistics.json")
    tracker.log_text(run_id, comparison.to_markdown(), "statistics.md")
    for i, (name, values) in enumerate(scores.items()):
        tracker.log_metrics(run_id, {f"candidate_{i}_test_{metric}_mean": float(np.mean(values))})
        tracker.set_tags(run_id, {f"candidate_{i}": name})
    if winner == BASELINE:
        decision = f"champion v{champion.version} kept: no candidate beat the fair baseline"
        tracker.set_tags(run_id, {"winner": winner})
        return RetuneResult(problem.name, decision, False, None, champion_score, None, run_id)
    evidence = significantly_better(scores[winner], scores[BASELINE], problem.direction, alpha=settings.alpha,
                                    paired=True)
    model, cand_hp = first_models[winner]
    examples = raw_examples(problem, new.x_test[:3])
    outputs = [str(y) for y in problem.decode_y(model.predict(new.x_test[:3], verbose=0))]
    uri = log_problem_model(tracker, run_id, model, problem.state(), examples, outputs)
    name = model_name(problem.name)
    tags = {"architecture": architecture, "config": config_key(architecture, cand_hp), "metric": metric,
            "direction": problem.direction, "test_scores": json.dumps(scores[winner]), "seeds": json.dumps(seeds),
            "test_mean": float(np.mean(scores[winner])), "test_std": float(np.std(scores[winner], ddof=1)),
            "retune_run": run_id, "candidate": winner, "vs_baseline_p": evidence.p_value,
            "vs_champion": champion.version,
            "data": json.dumps({"params": problem.params, "sizes": {"n_train": len(new.x_train),
                                "n_val": len(new.x_val), "n_test": len(new.x_test)},
                                "seed": tracker.client.get_run(run_id).data.tags.get("data.seed", 0)}, default=str)}
    version = registry.register(name, uri, run_id, tags).version
    if evidence.better:
        registry.promote(name, version)
        decision = (f"v{version} ({winner}) promoted to champion: significantly better than the fair baseline "
                    f"({evidence.test}, p={evidence.p_value:.3g}); v{champion.version} is now 'previous'")
    else:
        registry.set_alias(name, CHALLENGER, version)
        decision = (f"v{version} ({winner}) kept as challenger: not significantly better than the fair baseline "
                    f"({evidence.test}, p={evidence.p_value:.3g}); champion v{champion.version} kept")
    registry.set_version_tags(name, version, {"decision": decision})
    tracker.set_tags(run_id, {"winner": winner, "p_value": evidence.p_value, "new_version": version})
    tracker.log_metrics(run_id, {"p_value": evidence.p_value})
    return RetuneResult(problem.name, decision, evidence.better, version, champion_score, evidence.p_value, run_id)


def _warm_started_study(settings, tracker, experiment_id, parent, problem, architecture, hp, both, new):
    """A short study on old + new data, the champion's configuration enqueued first; its best hp."""
    if settings.trials < 1:
        return None
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = load_space(architecture, problem.name)
    study = optuna.create_study(storage=optuna_storage(settings.storage, settings.runs_dir),
                                study_name=f"{problem.name}-{architecture}-retune-{parent[:8]}",
                                direction=problem.direction,
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    study.set_user_attr("retune_of", problem.name)
    study.enqueue_trial(space.restrict(hp))
    splits = Splits(both[0], both[1], new.x_val, new.y_val, new.x_test, new.y_test)
    ctx = StudyContext(problem, splits, architecture, space, tuning_seeds(0, settings.tune_seeds), tracker,
                       experiment_id, parent, study.study_name, tags={"problem": problem.name,
                                                                     "architecture": architecture})
    study.optimize(Objective(ctx), n_trials=settings.trials, catch=(Exception,))
    try:
        return {**hp, **study.best_trial.user_attrs["hp"]}
    except ValueError:
        return None


def rollback(problem: str, tracking: str | None = None, runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    """Swap `champion` and `previous`: the previous champion serves again (run twice to undo)."""
    from tracking.registry import PREVIOUS

    registry = Registry(tracker_for(tracking, runs_dir))
    name = model_name(problem)
    current, previous = registry.alias(name, CHAMPION), registry.alias(name, PREVIOUS)
    if previous is None or current is None:
        raise UsageError(f"'{name}' has no previous champion to roll back to")
    registry.set_alias(name, CHAMPION, previous.version)
    registry.set_alias(name, PREVIOUS, current.version)
    registry.set_version_tags(name, current.version, {"rolled_back": "true"})
    return f"{name}: champion is v{previous.version} again (v{current.version} is now 'previous')"


def history(problem: str, tracking: str | None = None, runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    """Registry versions with aliases and scores, then each retune's decision."""
    tracker = tracker_for(tracking, runs_dir)
    name = model_name(problem)
    versions = Registry(tracker).versions(name)
    if not versions:
        raise UsageError(f"no registered versions of '{name}' yet")
    lines = [f"{name}", f"{'version':>7}  {'aliases':<22} {'test mean ± std':>18}  {'architecture':<16} decision"]
    for v in versions:
        t = v.tags
        score = f"{float(t['test_mean']):.4f} ± {float(t['test_std']):.4f}" if "test_mean" in t else "—"
        decision = t.get("decision") or ("first registration / report" if "report_run" in t else "")
        lines.append(f"{v.version:>7}  {','.join(v.aliases) or '-':<22} {score:>18}  {t.get('architecture', ''):<16} "
                     f"{decision}")
    exp = tracker.client.get_experiment_by_name(f"lstm-{problem}")
    if exp is not None:
        runs = tracker.client.search_runs([exp.experiment_id], "tags.role = 'retune'", order_by=["start_time ASC"])
        if runs:
            lines.append("\nretunes:")
        for r in runs:
            champ = next((v for k, v in r.data.metrics.items() if k.startswith("champion_test_")), None)
            lines.append(f"  {r.info.run_name} {r.info.status:<8} data {r.data.tags.get('data_hash', '?')} "
                         f"champion score {champ if champ is None else round(champ, 4)}: "
                         f"{r.data.tags.get('decision') or r.data.tags.get('reason', '')}")
    return "\n".join(lines)
