"""Finalize the report's winner: refit it on train + validation for the median best epoch of its seeds,
package it with its preprocessing, register it, and move the champion alias only when the evidence
says so (first registration, or significantly better than the champion); otherwise it is a challenger."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pipeline.champion.candidate import Candidate, raw_examples
from pipeline.champion.record import BOOK_REFERENCE, ChampionRecord
from pipeline.champion.registry import register
from pipeline.problems import Problem, Splits
from pipeline.problems.data_spec import DataSpec
from pipeline.training import train_one
from reports.stats import significantly_better
from tracking.names import model_name
from tracking.packaging import log_problem_model
from tracking.registry import CHAMPION, Registry


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


def finalize(problem: Problem, splits: Splits, data: DataSpec, winner: Candidate, rule: str, seeds: list[int],
             tracker, experiment_id: str, parent_run_id: str, alpha: float = 0.05) -> Finalized:
    """Refit on all non-test data for the median best epoch of the winner's seeds; register."""
    epochs = max(1, int(np.median([r.best_epoch for r in winner.runs])))
    hp = {**winner.hp, "epochs": epochs}
    run = train_one(problem, winner.architecture, hp, seeds[0], splits.train_plus_validation(), keep_model=True)
    test_score = float(problem.evaluate(run.model, splits.x_test, splits.y_test)[problem.metric])
    name = model_name(problem.name)
    registry = Registry(tracker)
    record = ChampionRecord(winner.architecture, winner.hp, problem.metric, problem.direction, winner.test_scores,
                            seeds, data, study=winner.study or BOOK_REFERENCE, trial=winner.trial,
                            report_run=parent_run_id, rule=rule)
    champion = registry.alias(name, CHAMPION)
    incumbent = None if champion is None else ChampionRecord.from_tags(champion.tags)
    if incumbent is not None and incumbent.config == record.config:
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

    if incumbent is None:
        version, alias = register(registry, name, uri, final_run, record, promote=True)
        return Finalized(name, version, alias, "first registration: champion", epochs, problem.metric, test_score,
                         uri)
    evidence = significantly_better(record.test_scores, incumbent.test_scores, problem.direction, alpha=alpha,
                                    paired=incumbent.seeds == seeds)
    record = replace(record, vs_champion=str(champion.version), vs_champion_p=evidence.p_value)
    version, alias = register(registry, name, uri, final_run, record, promote=evidence.better)
    verdict = "significantly better than" if evidence.better else "not significantly better than"
    outcome = "promoted" if evidence.better else "kept as challenger"
    return Finalized(name, version, alias, f"{verdict} champion v{champion.version} ({evidence.test}, "
                     f"p={evidence.p_value:.3g}): {outcome}", epochs, problem.metric, test_score, uri,
                     evidence.p_value)
