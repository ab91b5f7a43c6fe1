"""Report stage: re-evaluate the best candidates over many fresh seeds on the test set, pick a winner
with statistics, write the HTML/Markdown report, then finalize and register the winner."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from pipeline.report.candidates import Candidate, add_champion, evaluate_candidates, select_candidates
from pipeline.champion import Finalized, Verdict, current_champion, finalize
from pipeline.champion.candidate import claims
from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, Problem, Splits, get_problem
from pipeline.problems.data_spec import DataSpec
from pipeline.training.seeding import report_seeds
from pipeline.settings import AUTO, MAX_AUTO_SEEDS, PILOT_SEEDS, ReportSettings
from pipeline.search.studies import stored_studies
from pipeline.stores.storage import silence_optuna
from pipeline.report.forecast import ForecastReport, forecast_report, registered_judge
from pipeline.report.document import registry_section, report_sections
from reports import plots
from reports.diagnostics import constant_loss
from reports.html import Link, write_report
from reports.stats import Comparison, compare, fill_failed, seeds_for
from tracking.datasets import SplitDatasets, split_datasets
from tracking.names import experiment_name
from tracking.run_tree import RunScope
from tracking.ui import CANDIDATE_TAG, REPORT_TAG, run_url, server_url, share_candidates_view


@dataclass
class ReportResult:
    problem: str
    metric: str
    winner: Candidate
    rule: str
    candidates: list[Candidate]
    html: Path
    markdown: Path
    report_run_id: str
    finalized: Finalized | None


def load_tuned(settings: ReportSettings) -> tuple[Problem, Splits, list[optuna.Study], DataSpec]:
    """The problem and data the studies were tuned on, and the studies; a clear error if none."""
    if settings.problem not in PROBLEMS:
        get_problem(settings.problem)  # unknown problem -> the error that lists the known ones
    studies = stored_studies(settings.study_storage(), settings.problem)
    if not studies:
        raise UsageError(f"problem '{settings.problem}' has no finished trials yet; "
                         f"run `make tune PROBLEM={settings.problem}` first")
    data = DataSpec.from_dict(studies[0].user_attrs["data"])
    problem = get_problem(settings.problem, **data.params)
    return problem, data.splits(problem), studies, data


def report(settings: ReportSettings) -> ReportResult:
    if settings.top_k < 1 or (settings.repeats != AUTO and (not isinstance(settings.repeats, int)
                                                            or settings.repeats < 2)):
        raise UsageError("TOP_K must be at least 1 and REPEATS at least 2 (or auto)")
    problem, splits, studies, data_spec = load_tuned(settings)
    tracker = settings.tracker()
    silence_optuna()
    candidates = select_candidates(problem, studies, settings.top_k)
    current = current_champion(tracker, problem.name) if settings.register else None
    if current is not None:
        candidates = add_champion(candidates, *current)
    seeds, sizing = _evaluate(settings, problem, splits, candidates)
    comparison, margin = _compare(settings, problem, candidates, sizing)
    winner = next(c for c in candidates if c.name == comparison.winner)
    champion = next((c for c in candidates if current is not None and c.champion == current[0]), None)
    experiment_id = tracker.experiment_id(experiment_name(problem.name))
    datasets = split_datasets(problem, data_spec, splits)
    with tracker.run(experiment_id, f"report-{problem.name}", "report",
                     tags={"problem": problem.name, "winner": winner.name},
                     params={"top_k": settings.top_k, "repeats": settings.repeats, "alpha": settings.alpha,
                             "margin": margin, "seeds": seeds}, inputs=datasets.evaluation()) as run_id:
        run = RunScope(tracker, experiment_id, run_id)
        forecast = forecast_report(problem, candidates, comparison, settings.alpha)  # None unless a forecast
        runs = _log_candidates(run, problem, candidates, forecast, datasets)
        sections = report_sections(problem, candidates, comparison, studies, forecast, runs,
                                   constant_loss(problem.loss, splits.y_train))
        finalized = None
        if settings.register:
            verdict = Verdict(winner, comparison, seeds, champion, registered_judge(problem, splits, settings.alpha))
            finalized = finalize(problem, splits, data_spec, verdict, run, settings)
            sections.append(registry_section(finalized))
        html_path, md_path = _write(settings, problem.name, sections, run, comparison)
    return ReportResult(problem.name, problem.metric, winner, comparison.rule, candidates, html_path, md_path,
                        run_id, finalized)


def _compare(settings: ReportSettings, problem: Problem, candidates: list[Candidate],
             sizing: str) -> tuple[Comparison, float]:
    """The statistics over the candidates (a failed seed filled in), and the margin they used: the best
    chosen on its validation scores, every claim tested on the per-item test losses (seeds and items)."""
    scores, failures = fill_failed({c.name: c.test_scores for c in candidates}, problem.direction)
    selection, _ = fill_failed({c.name: c.validation_scores for c in candidates}, problem.direction)
    margin = _margin(settings, problem, scores)
    comparison = compare(scores, problem.direction, params={c.name: c.n_params for c in candidates},
                         alpha=settings.alpha, margin=margin, items=claims(problem, candidates, margin),
                         selection=selection)
    comparison.rule += "".join(f"; {sentence}" for sentence in (failures, sizing) if sentence)
    return comparison, margin


def _write(settings: ReportSettings, problem: str, sections: list, run: RunScope,
           comparison: Comparison) -> tuple[Path, Path]:
    """The HTML and Markdown report, logged with the statistics under the report's run."""
    html_path, md_path = write_report(settings.out_dir / problem, problem, sections)
    for section in sections:
        for fig in section.figures.values():
            plots.close(fig)
    run.tracker.log_artifact(run.run_id, html_path)
    run.tracker.log_artifact(run.run_id, md_path)
    run.tracker.log_dict(run.run_id, comparison.to_dict(), "statistics.json")
    return html_path, md_path


def _margin(settings: ReportSettings, problem: Problem, scores: dict[str, list[float]]) -> float:
    """MARGIN, or the problem's equivalence margin at the best candidate's mean."""
    if settings.margin is not None:
        return settings.margin
    means = [float(np.mean(v)) for v in scores.values()]
    return problem.equivalence_margin(max(means) if problem.direction == "maximize" else min(means))


def _evaluate(settings: ReportSettings, problem: Problem, splits: Splits,
              candidates: list[Candidate]) -> tuple[list[int], str]:
    """Every candidate over the report's seeds; with REPEATS=auto a pilot first measures the seed SD and
    picks enough seeds that the comparisons detect the margin with 80% power after Holm (capped)."""
    if settings.repeats != AUTO:
        seeds = report_seeds(settings.repeats)
        evaluate_candidates(problem, splits, candidates, seeds, settings.progress, settings.fuse)
        return seeds, ""
    pilot = report_seeds(PILOT_SEEDS)
    evaluate_candidates(problem, splits, candidates, pilot, settings.progress, settings.fuse)
    scores, _ = fill_failed({c.name: c.test_scores for c in candidates}, problem.direction)
    margin = _margin(settings, problem, scores)
    sign = 1 if problem.direction == "maximize" else -1
    best = np.asarray(max(scores.values(), key=lambda v: sign * np.mean(v)))
    sds = [float(np.std(np.asarray(v) - best, ddof=1)) for v in scores.values() if not np.array_equal(v, best)]
    sd = float(np.median(sds)) if sds else 0.0
    n = seeds_for(margin, sd, settings.alpha, paired=True, cap=MAX_AUTO_SEEDS, comparisons=len(candidates) - 1)
    n = min(MAX_AUTO_SEEDS, max(PILOT_SEEDS, n))
    seeds = report_seeds(n)
    if n > PILOT_SEEDS:
        evaluate_candidates(problem, splits, candidates, seeds[PILOT_SEEDS:], settings.progress, settings.fuse)
    return seeds, (f"REPEATS=auto: a pilot of {PILOT_SEEDS} seeds measured a paired seed SD of {sd:.3g}; {n} seeds "
                   f"detect the margin {margin:.3g} with 80% power at Holm's strictest level over "
                   f"{len(candidates) - 1} comparison(s) (at most {MAX_AUTO_SEEDS}; the test items' variance "
                   "comes on top)")


def _log_candidates(report_run: RunScope, problem: Problem, candidates: list[Candidate],
                    forecast: ForecastReport | None, datasets: SplitDatasets) -> dict[str, list[Link]]:
    """A run per candidate under the report's: its datasets, its test scores over the seeds and their summary
    (with its forecast metrics), a run per seed under it (tagged with the candidate: MLflow's charts group
    them, tracking.ui saves that view); the report run gets the forecast's own metrics. Each candidate's
    runs (this one and its tuning trial's), as links when the tracking URI is a server."""
    base = server_url(report_run.tracker.uri)
    links = {}
    for c in candidates:
        run_id = _log_candidate(report_run, problem, c, forecast.candidate_metrics[c.name] if forecast else {},
                                datasets)
        runs = [("re-evaluation", run_id)] + ([("tuning trial", c.trial_run)] if c.trial_run else [])
        links[c.name] = [Link(f"{kind} {rid}", base and run_url(base, report_run.experiment_id, rid))
                         for kind, rid in runs]
    share_candidates_view(report_run.tracker, report_run.experiment_id, report_run.run_id)
    if forecast:
        report_run.log_metrics({k: v for k, v in forecast.run_metrics.items() if np.isfinite(v)})
    return links


def _log_candidate(report_run: RunScope, problem: Problem, c: Candidate, extra: dict[str, float],
                   datasets: SplitDatasets) -> str:
    tracker = report_run.tracker
    with tracker.run(report_run.experiment_id, f"candidate-{c.name}", "candidate", report_run.run_id,
                     tags={"problem": problem.name, "architecture": c.architecture,
                           "study": c.study or "", "trial": "" if c.trial is None else c.trial},
                     params={**c.hp, "architecture": c.architecture}, inputs=datasets.evaluation()) as run:
        for step, score in enumerate(c.test_scores):
            tracker.log_metrics(run, {f"test_{problem.metric}": score}, step=step)
        arr = np.asarray(c.test_scores)
        tracker.log_metrics(run, {f"test_{problem.metric}_mean": np.nanmean(arr), f"test_{problem.metric}_std":
                                  np.nanstd(arr, ddof=1), "n_params": c.n_params, "n_seeds": len(arr),
                                  "n_diverged": len(c.failures)}
                            | {k: v for k, v in extra.items() if np.isfinite(v)})
        if c.failures:
            tracker.set_tags(run, {"diverged": "; ".join(c.failures)})
        tracker.log_losses(run, c.losses, [r.seed for r in c.runs])
        for seed_run, score in zip(c.runs, c.test_scores):
            _log_seed(RunScope(tracker, report_run.experiment_id, run), problem, c.name, seed_run, score,
                      report_run.run_id)
    return run


def _log_seed(candidate_run: RunScope, problem: Problem, name: str, seed_run, score: float, report_run_id: str) -> None:
    """One seed of a candidate: its learning curves per epoch and its test score, tagged with the candidate."""
    tracker = candidate_run.tracker
    with tracker.run(candidate_run.experiment_id, f"{name}-seed-{seed_run.seed}", "candidate_seed",
                     candidate_run.run_id, tags={"problem": problem.name, CANDIDATE_TAG: name,
                                                 REPORT_TAG: report_run_id, "seed": seed_run.seed}) as run:
        now = int(time.time() * 1000)
        rows = [(k, v, now, epoch) for k, values in seed_run.history.items() for epoch, v in enumerate(values, 1)
                if np.isfinite(v)]
        tracker.log_metric_rows(run, rows)
        tracker.log_metrics(run, {k: v for k, v in {f"test_{problem.metric}": score, "best_epoch": seed_run.best_epoch,
                                                     "epochs": seed_run.epochs}.items() if np.isfinite(v)})
        if seed_run.failure:
            tracker.set_tags(run, {"diverged": seed_run.failure})


def format_result(result: ReportResult) -> str:
    lines = [f"winner: {result.winner.name} ({result.rule})",
             f"report: {result.html}", f"summary: {result.markdown}"]
    if result.finalized:
        lines.append(f"registry: {result.finalized.summary()}")
    return "\n".join(lines)
