"""Finalize the report's winner: refit it on train + validation for the median best epoch of its seeds,
with K seeds (their ensemble registered when it beats a single seed on the test set, else one seed model:
pipeline.champion.ensemble), package it with its preprocessing, register it, and move the champion alias
only when the evidence says so (first registration, or better than the champion on new data by at least
the problem's margin: reports.stats.significantly_better over seeds and test items); otherwise it is a
challenger."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from pipeline.champion.candidate import Candidate, claims, raw_examples
from pipeline.champion.ensemble import EnsembleChoice, item_losses, refit
from pipeline.settings import ReportSettings
from pipeline.champion.record import BOOK_REFERENCE, ChampionRecord
from pipeline.champion.registry import record_decision, register
from pipeline.problems import Problem, Splits
from pipeline.problems.data_spec import DataSpec
from pipeline.training.seeding import report_seeds
from reports.stats import Comparison, fmt, significantly_better
from tracking.datasets import split_datasets
from tracking.names import model_name
from tracking.packaging import log_problem_model
from tracking.registry import CHAMPION, Registry
from tracking.run_tree import RunScope


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


@dataclass(frozen=True)
class Verdict:
    """What the report decided: its winner, the comparison that chose it over `seeds`, the current
    champion's configuration among its candidates (None when it is not one) and `veto_of`: why the model
    finalize registers may not be champion (e.g. a forecast that does not beat every baseline), or None."""

    winner: Candidate
    comparison: Comparison
    seeds: list[int]
    champion: Candidate | None = None
    veto_of: Callable[[Any], str | None] | None = None

    @property
    def confirm(self) -> slice:
        """The comparison's confirmation seeds (the scores that did not choose the winner)."""
        n = self.comparison.n_confirm
        return slice(len(self.seeds) - n, None) if n else slice(None)

    @property
    def epochs(self) -> int:
        """The median best epoch of the winner's seeds: how long the refit trains."""
        return max(1, int(np.median([r.best_epoch for r in self.winner.runs if not r.failure])))


@dataclass(frozen=True)
class FinalModel:
    """The winner refit on all non-test data: what it trained with, the model to register and how it was
    chosen, its registry record; once logged, its final run and model URI."""

    hp: dict[str, Any]
    model: Any
    choice: EnsembleChoice
    record: ChampionRecord
    veto: str | None = None  # why this model may not be champion (Verdict.veto_of), or None
    run_id: str = ""
    uri: str = ""


def finalize(problem: Problem, splits: Splits, data: DataSpec, verdict: Verdict, report_run: RunScope,
             settings: ReportSettings) -> Finalized:
    """Refit on all non-test data for the median best epoch of the winner's seeds, with the first
    `settings.ensemble` report seeds; register their ensemble or the first seed's model, as
    pipeline.champion.ensemble decides; its final run is nested under `report_run`.

    The winner's record keeps the scores that did not choose it (the comparison's confirmation seeds), and
    the promotion test compares them with the champion's configuration re-evaluated on the same seeds and
    test data (`verdict.champion`, a candidate of this report): never with scores from other data. A veto
    registers it as challenger whatever the test says. The version's decision tag holds the sentence that
    placed it."""
    name = model_name(problem.name)
    registry = Registry(report_run.tracker)
    current = registry.alias(name, CHAMPION)
    if current is not None and verdict.winner.champion == str(current.version):  # nothing to refit or register
        return Finalized(name, None, None, f"champion v{current.version} unchanged: the winner is its "
                         "configuration", verdict.epochs, problem.metric, math.nan, None)
    final = _refit(problem, splits, data, verdict, settings, report_run.run_id)
    final = _log_final(problem, splits, verdict, final, report_run)
    if current is None or verdict.champion is None:
        return _first_registration(registry, problem, current, verdict, final)
    return _versus_champion(registry, problem, current, verdict, final, settings.alpha)


def _refit(problem: Problem, splits: Splits, data: DataSpec, verdict: Verdict, settings: ReportSettings,
           report_run_id: str) -> FinalModel:
    """The refit model and its record (not yet logged)."""
    winner, comparison = verdict.winner, verdict.comparison
    hp = {**winner.hp, "epochs": verdict.epochs}
    model, choice = refit(problem, winner.architecture, hp, report_seeds(max(1, settings.ensemble)), splits,
                          settings.alpha, settings.fuse)
    confirm = verdict.confirm
    record = ChampionRecord(winner.architecture, winner.hp, problem.metric, problem.direction,
                            comparison.scores[winner.name][confirm], verdict.seeds[confirm], data,
                            study=winner.study or BOOK_REFERENCE, trial=winner.trial, report_run=report_run_id,
                            rule=comparison.rule, model_kind=choice.kind, model_test=choice.score,
                            ensemble_test=choice.ensemble_score, final_seeds=choice.seeds, seed_tests=choice.seed_scores,
                            ensemble_rule=choice.rule)
    return FinalModel(hp, model, choice, record, verdict.veto_of(model) if verdict.veto_of else None)


def _log_final(problem: Problem, splits: Splits, verdict: Verdict, final: FinalModel, report_run: RunScope) -> FinalModel:
    """The final run under the report's: its datasets (refit on train + validation, scored on test: the
    registered version's source run carries the data it was trained on), the refit's test scores (the
    registered model's linked to its logged model and the test dataset), the registered model's per-item
    test losses (seed -1: the ensemble) and its packaged model."""
    tracker, winner = report_run.tracker, verdict.winner
    datasets = split_datasets(problem, final.record.data, splits)
    with tracker.run(report_run.experiment_id, f"final-{winner.name}", "final", report_run.run_id,
                     tags={"problem": problem.name, "architecture": winner.architecture},
                     params={**final.hp, "architecture": winner.architecture, "seeds": final.choice.seeds},
                     inputs=datasets.refit()) as run_id:
        _log_choice(tracker, run_id, final.choice, verdict.epochs)
        tracker.log_losses(run_id, [item_losses(problem, final.model, splits.x_test, splits.y_test)],
                           [final.choice.single_seed] if not final.choice.registered_ensemble else [-1])
        examples = raw_examples(problem, splits.x_test[:3])
        uri = log_problem_model(tracker, run_id, final.model, problem.state(), examples,
                                problem.predict_raw(final.model, examples))
        tracker.log_model_metrics(run_id, uri, {f"test_{final.choice.metric}": final.choice.score}, datasets.test)
    return replace(final, run_id=run_id, uri=uri)


def _first_registration(registry: Registry, problem: Problem, current, verdict: Verdict, final: FinalModel) -> Finalized:
    """No champion to test against (none yet, or its configuration was not re-evaluated): champion unless vetoed."""
    name = model_name(problem.name)
    version, alias = register(registry, name, final.uri, final.run_id, final.record, promote=final.veto is None)
    first = "first registration" if current is None else f"champion v{current.version} could not be re-evaluated"
    decision = f"{first}: {'champion' if final.veto is None else _vetoed(final.veto)}"
    record_decision(registry, name, version, decision)
    return Finalized(name, version, alias, decision, verdict.epochs, problem.metric, final.choice.score, final.uri,
                     choice=final.choice)


def _versus_champion(registry: Registry, problem: Problem, current, verdict: Verdict, final: FinalModel,
                     alpha: float) -> Finalized:
    """Champion when significantly better than the champion's configuration on the same seeds and test data
    (and not vetoed), else challenger."""
    name = model_name(problem.name)
    winner, champion = verdict.winner, verdict.champion
    margin = verdict.comparison.margin
    items = claims(problem, [winner, champion], margin, verdict.confirm)
    evidence = significantly_better(final.record.test_scores, verdict.comparison.scores[champion.name][verdict.confirm],
                                    problem.direction, alpha, items, (winner.name, champion.name),
                                    min_effect=items.loss_margin or 0.0)
    record = replace(final.record, vs_champion=str(current.version), vs_champion_p=evidence.p_value)
    version, alias = register(registry, name, final.uri, final.run_id, record,
                              promote=evidence.better and final.veto is None)
    verdict_text = "better on new data than" if evidence.better else "not shown better on new data than"
    outcome = (_vetoed(final.veto) if final.veto is not None else "promoted" if evidence.better
               else "kept as challenger")
    notes = "".join(f"; {note}" for note in evidence.notes)
    decision = (f"{verdict_text} champion v{current.version}, re-evaluated on the same seeds and test data "
                f"({evidence.test} {evidence.sources}, mean loss difference {fmt(evidence.loss_difference)}, "
                f"p={fmt(evidence.p_value)}, minimum effect {fmt(evidence.min_effect)}{notes}): {outcome}")
    record_decision(registry, name, version, decision)
    return Finalized(name, version, alias, decision, verdict.epochs, problem.metric, final.choice.score, final.uri,
                     evidence.p_value, final.choice)


def _vetoed(veto: str) -> str:
    return f"registered as challenger, not champion: {veto}"


def _log_choice(tracker, run_id: str, choice: EnsembleChoice, epochs: int) -> None:
    """The final run's test scores: the ensemble's, each seed model's; which is which (the registered model's
    is logged with its model and dataset: _log_final)."""
    metric = f"test_{choice.metric}"
    values = {f"{metric}_single": choice.single_score, "epochs": epochs,
              f"{metric}_seeds_mean": float(np.mean(choice.seed_scores))}
    if choice.ensemble_score is not None:
        values[f"{metric}_ensemble"] = choice.ensemble_score
    tracker.log_metrics(run_id, values)
    for step, score in enumerate(choice.seed_scores):
        tracker.log_metrics(run_id, {f"{metric}_seed": score}, step=step)
    tracker.set_tags(run_id, {"model": choice.kind, "ensemble_rule": choice.rule})
