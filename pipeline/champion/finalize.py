"""Finalize the report's winner: refit it on train + validation for the median best epoch of its seeds,
with K seeds (their ensemble registered when it beats a single seed on the test set, else one seed model:
pipeline.champion.ensemble), package it with its preprocessing, register it, and move the champion alias
only when the evidence says so (first registration, or significantly better than the champion); otherwise
it is a challenger."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pipeline.champion.candidate import Candidate, raw_examples
from pipeline.champion.ensemble import EnsembleChoice, refit
from pipeline.settings import ENSEMBLE_SIZE
from pipeline.champion.record import BOOK_REFERENCE, ChampionRecord
from pipeline.champion.registry import record_decision, register
from pipeline.problems import Problem, Splits
from pipeline.problems.data_spec import DataSpec
from pipeline.training.seeding import report_seeds
from reports.stats import Comparison, significantly_better
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
    test_score: float  # the registered model's test score (nan when nothing was refit)
    model_uri: str | None
    p_value: float | None = None
    choice: EnsembleChoice | None = None  # single seed vs ensemble test scores, and which was registered

    def summary(self) -> str:
        where = f"{self.model_name} v{self.version} @{self.alias}" if self.version else self.model_name
        kind = f" ({self.choice.kind}, test {self.metric} {self.test_score:.4f})" if self.choice else ""
        return f"{where}{kind}: {self.decision}"


def finalize(problem: Problem, splits: Splits, data: DataSpec, winner: Candidate, comparison: Comparison,
             seeds: list[int], tracker, experiment_id: str, parent_run_id: str, champion: Candidate | None = None,
             alpha: float = 0.05, ensemble: int = ENSEMBLE_SIZE, fuse: bool = True,
             veto: str | None = None) -> Finalized:
    """Refit on all non-test data for the median best epoch of the winner's seeds, with the first `ensemble`
    report seeds; register their ensemble or the first seed's model, as pipeline.champion.ensemble decides.

    The winner's record keeps the scores that did not choose it (the comparison's confirmation seeds), and
    the promotion test compares them with the champion's configuration re-evaluated on the same seeds and
    test data (`champion`, a candidate of this report): never with scores from other data. A `veto` (the
    reason the winner may not be champion, e.g. a forecast that does not beat the naive one) registers it
    as challenger whatever the test says. The version's decision tag holds the sentence that placed it."""
    epochs = max(1, int(np.median([r.best_epoch for r in winner.runs if not r.failure])))
    name = model_name(problem.name)
    registry = Registry(tracker)
    current = registry.alias(name, CHAMPION)
    if current is not None and winner.champion == str(current.version):  # nothing to refit or register
        return Finalized(name, None, None, f"champion v{current.version} unchanged: the winner is its "
                         "configuration", epochs, problem.metric, math.nan, None)
    hp = {**winner.hp, "epochs": epochs}
    final_seeds = report_seeds(max(1, ensemble))
    model, choice = refit(problem, winner.architecture, hp, final_seeds, splits, alpha, fuse)
    test_score = choice.score
    confirm = slice(len(seeds) - comparison.n_confirm, None) if comparison.n_confirm else slice(None)
    record = ChampionRecord(winner.architecture, winner.hp, problem.metric, problem.direction,
                            comparison.scores[winner.name][confirm], seeds[confirm], data,
                            study=winner.study or BOOK_REFERENCE, trial=winner.trial, report_run=parent_run_id,
                            rule=comparison.rule, model_kind=choice.kind, model_test=test_score,
                            ensemble_test=choice.ensemble_score, final_seeds=choice.seeds, seed_tests=choice.seed_scores,
                            ensemble_rule=choice.rule)

    final_run = tracker.start_run(experiment_id, f"final-{winner.name}", "final", parent_run_id,
                                  tags={"problem": problem.name, "architecture": winner.architecture},
                                  params={**hp, "architecture": winner.architecture, "seeds": choice.seeds})
    _log_choice(tracker, final_run, choice, epochs)
    examples = raw_examples(problem, splits.x_test[:3])
    uri = log_problem_model(tracker, final_run, model, problem.state(), examples, problem.predict_raw(model, examples))
    tracker.end_run(final_run)

    vetoed = f"registered as challenger, not champion: {veto}"
    if current is None or champion is None:
        version, alias = register(registry, name, uri, final_run, record, promote=veto is None)
        first = "first registration" if current is None else f"champion v{current.version} could not be re-evaluated"
        decision = f"{first}: {'champion' if veto is None else vetoed}"
        record_decision(registry, name, version, decision)
        return Finalized(name, version, alias, decision, epochs, problem.metric, test_score, uri, choice=choice)
    evidence = significantly_better(record.test_scores, comparison.scores[champion.name][confirm],
                                    problem.direction, alpha=alpha, paired=True)
    record = replace(record, vs_champion=str(current.version), vs_champion_p=evidence.p_value)
    version, alias = register(registry, name, uri, final_run, record, promote=evidence.better and veto is None)
    verdict = "significantly better than" if evidence.better else "not significantly better than"
    outcome = vetoed if veto is not None else "promoted" if evidence.better else "kept as challenger"
    decision = (f"{verdict} champion v{current.version} re-evaluated on the same {len(record.seeds)} seeds and "
                f"test data ({evidence.test}, p={evidence.p_value:.3g}): {outcome}")
    record_decision(registry, name, version, decision)
    return Finalized(name, version, alias, decision, epochs, problem.metric, test_score, uri, evidence.p_value,
                     choice)


def _log_choice(tracker, run_id: str, choice: EnsembleChoice, epochs: int) -> None:
    """The final run's test scores: the registered model's, the ensemble's, each seed model's; which is which."""
    metric = f"test_{choice.metric}"
    values = {metric: choice.score, f"{metric}_single": choice.single_score, "epochs": epochs,
              f"{metric}_seeds_mean": float(np.mean(choice.seed_scores))}
    if choice.ensemble_score is not None:
        values[f"{metric}_ensemble"] = choice.ensemble_score
    tracker.log_metrics(run_id, values)
    for step, score in enumerate(choice.seed_scores):
        tracker.log_metrics(run_id, {f"{metric}_seed": score}, step=step)
    tracker.set_tags(run_id, {"model": choice.kind, "ensemble_rule": choice.rule})
