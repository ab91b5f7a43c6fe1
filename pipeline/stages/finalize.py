"""Finalize: refit the winner on train + validation, package it with its preprocessing, register it,
and move the champion alias only when the evidence says so."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.problems import Problem, Splits
from pipeline.training import train_one
from reports.stats import significantly_better
from tracking.packaging import log_problem_model
from tracking.registry import CHALLENGER, CHAMPION, Registry, model_name

if TYPE_CHECKING:
    from pipeline.stages.report import Candidate


@dataclass
class Finalized:
    model_name: str
    version: str | None
    alias: str | None
    decision: str
    epochs: int
    metric: str
    test_score: float
    model_uri: str | None
    p_value: float | None = None

    def summary(self) -> str:
        where = f"{self.model_name} v{self.version} @{self.alias}" if self.version else self.model_name
        return f"{where}: {self.decision}"


def raw_examples(problem: Problem, x: np.ndarray) -> list[str]:
    """Inputs as the strings a pyfunc caller sends (decoded text, or JSON for numeric inputs)."""
    return [v if isinstance(v, str) else json.dumps(np.asarray(v).tolist()) for v in problem.decode_x(x)]


def config_key(architecture: str, hp: dict[str, Any]) -> str:
    return json.dumps([architecture, hp], sort_keys=True, default=str)


def finalize(problem: Problem, splits: Splits, data_spec: dict[str, Any], winner: "Candidate", comparison, seeds: list[int], tracker,
             experiment_id: str, parent_run_id: str, alpha: float = 0.05) -> Finalized:
    """Refit on all non-test data for the median best epoch of the winner's seeds; register."""
    epochs = max(1, int(np.median([r.best_epoch for r in winner.runs])))
    hp = {**winner.hp, "epochs": epochs}
    run = train_one(problem, winner.architecture, hp, seeds[0], splits.train_plus_validation(), keep_model=True)
    test_score = float(problem.evaluate(run.model, splits.x_test, splits.y_test)[problem.metric])
    name = model_name(problem.name)
    registry = Registry(tracker)
    champion = registry.alias(name, CHAMPION)
    if champion is not None and champion.tags.get("config") == config_key(winner.architecture, winner.hp):
        return Finalized(name, None, None, f"champion v{champion.version} unchanged: the winner is its "
                         "configuration", epochs, problem.metric, test_score, None)

    final_run = tracker.start_run(experiment_id, f"final-{winner.name}", "final", parent_run_id,
                                  tags={"problem": problem.name, "architecture": winner.architecture},
                                  params={**hp, "architecture": winner.architecture, "seed": seeds[0]})
    tracker.log_metrics(final_run, {f"test_{problem.metric}": test_score, "epochs": epochs})
    examples = raw_examples(problem, splits.x_test[:3])
    outputs = [str(y) for y in problem.decode_y(run.model.predict(splits.x_test[:3], verbose=0))]
    uri = log_problem_model(tracker, final_run, run.model, problem.state(), examples, outputs)
    tracker.end_run(final_run)

    scores = winner.test_scores
    tags = {"study": winner.study or "book reference", "trial": winner.trial, "architecture": winner.architecture,
            "config": config_key(winner.architecture, winner.hp), "metric": problem.metric,
            "direction": problem.direction, "test_scores": json.dumps(scores), "seeds": json.dumps(seeds),
            "test_mean": float(np.mean(scores)), "test_std": float(np.std(scores, ddof=1)),
            "report_run": parent_run_id, "rule": comparison.rule, "data": json.dumps(data_spec, default=str)}
    version = registry.register(name, uri, final_run, tags)
    if champion is None:
        registry.promote(name, version.version)
        return Finalized(name, version.version, CHAMPION, "first registration: champion", epochs,
                         problem.metric, test_score, uri)
    incumbent = json.loads(champion.tags.get("test_scores", "[]"))
    paired = champion.tags.get("seeds") == json.dumps(seeds)
    decision = significantly_better(scores, incumbent, problem.direction, alpha=alpha, paired=paired)
    registry.set_version_tags(name, version.version, {"vs_champion": champion.version,
                                                      "vs_champion_p": decision.p_value})
    if decision.better:
        registry.promote(name, version.version)
        return Finalized(name, version.version, CHAMPION, f"significantly better than champion v{champion.version} "
                         f"({decision.test}, p={decision.p_value:.3g}): promoted", epochs, problem.metric,
                         test_score, uri, decision.p_value)
    registry.set_alias(name, CHALLENGER, version.version)
    return Finalized(name, version.version, CHALLENGER, f"not significantly better than champion "
                     f"v{champion.version} ({decision.test}, p={decision.p_value:.3g}): kept as challenger",
                     epochs, problem.metric, test_score, uri, decision.p_value)
