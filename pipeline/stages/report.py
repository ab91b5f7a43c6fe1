"""Report stage: re-evaluate the best candidates over many fresh seeds on the test set, pick a winner
with statistics, write the HTML/Markdown report, then finalize and register the winner."""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from pipeline.candidates import Candidate, evaluate_candidates, select_candidates, tuned_studies
from pipeline.champion import Finalized, finalize
from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, Problem, Splits, get_problem
from pipeline.problems.data_spec import DataSpec
from pipeline.seeding import report_seeds
from pipeline.settings import JobSettings
from pipeline.storage import silence_optuna
from reports import diagnostics, plots
from reports.html import Section, table_html, table_markdown, write_report
from reports.stats import compare
from tracking.names import experiment_name


@dataclass
class ReportSettings(JobSettings):
    problem: str
    top_k: int = 5
    repeats: int = 30
    out_dir: Path = Path("reports/out")
    alpha: float = 0.05
    register: bool = True


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
    studies = tuned_studies(settings.problem, settings.study_storage())
    if not studies:
        raise UsageError(f"problem '{settings.problem}' has no finished trials yet; "
                         f"run `make tune PROBLEM={settings.problem}` first")
    data = DataSpec.from_dict(studies[0].user_attrs["data"])
    problem = get_problem(settings.problem, **data.params)
    return problem, data.splits(problem), studies, data


def report(settings: ReportSettings) -> ReportResult:
    if settings.top_k < 1 or settings.repeats < 2:
        raise UsageError("TOP_K must be at least 1 and REPEATS at least 2")
    problem, splits, studies, data_spec = load_tuned(settings)
    tracker = settings.tracker()
    silence_optuna()
    candidates = select_candidates(problem, studies, settings.top_k)
    seeds = report_seeds(settings.repeats)
    evaluate_candidates(problem, splits, candidates, seeds, settings.progress, settings.fuse)

    scores = {c.name: c.test_scores for c in candidates}
    comparison = compare(scores, problem.direction, params={c.name: c.n_params for c in candidates},
                         alpha=settings.alpha, paired=True)
    winner = next(c for c in candidates if c.name == comparison.winner)

    experiment_id = tracker.experiment_id(experiment_name(problem.name))
    run_id = tracker.start_run(experiment_id, f"report-{problem.name}", "report",
                               tags={"problem": problem.name, "winner": winner.name},
                               params={"top_k": settings.top_k, "repeats": settings.repeats, "alpha": settings.alpha,
                                       "seeds": seeds})
    for c in candidates:
        _log_candidate(tracker, experiment_id, run_id, problem, c)
    sections = _sections(problem, candidates, comparison, studies)
    finalized = None
    if settings.register:
        finalized = finalize(problem, splits, data_spec, winner, comparison.rule, seeds, tracker, experiment_id,
                             run_id, alpha=settings.alpha)
        sections.append(_registry_section(finalized))
    out_dir = settings.out_dir / problem.name
    html_path, md_path = write_report(out_dir, problem.name, sections)
    for section in sections:
        for fig in section.figures.values():
            plots.close(fig)
    tracker.log_artifact(run_id, html_path)
    tracker.log_artifact(run_id, md_path)
    tracker.log_dict(run_id, comparison.to_dict(), "statistics.json")
    tracker.end_run(run_id)
    return ReportResult(problem.name, problem.metric, winner, comparison.rule, candidates, html_path, md_path,
                        run_id, finalized)


def _log_candidate(tracker, experiment_id: str, parent: str, problem: Problem, c: Candidate) -> None:
    run = tracker.start_run(experiment_id, f"candidate-{c.name}", "candidate", parent,
                            tags={"problem": problem.name, "architecture": c.architecture,
                                  "study": c.study or "", "trial": "" if c.trial is None else c.trial},
                            params={**c.hp, "architecture": c.architecture})
    for step, score in enumerate(c.test_scores):
        tracker.log_metrics(run, {f"test_{problem.metric}": score}, step=step)
    arr = np.asarray(c.test_scores)
    tracker.log_metrics(run, {f"test_{problem.metric}_mean": arr.mean(), f"test_{problem.metric}_std": arr.std(ddof=1),
                              "n_params": c.n_params, "n_seeds": len(arr)})
    tracker.end_run(run)


def _sections(problem: Problem, candidates: list[Candidate], comparison, studies) -> list[Section]:
    metric = problem.metric
    rows = []
    for c in candidates:
        arr = np.asarray(c.test_scores)
        rows.append([c.name, c.architecture, c.n_params, f"{arr.mean():.4f}", f"{arr.std(ddof=1):.4f}",
                     f"{np.median(arr):.4f}", "—" if c.tuning_value is None else f"{c.tuning_value:.4f}",
                     c.study or "book"])
    header = ["candidate", "architecture", "parameters", f"test {metric} mean", "std", "median",
              "tuning (validation) mean", "source"]
    winner_index = next(i for i, c in enumerate(candidates) if c.name == comparison.winner)
    decision = (f"<p><b>Winner: {comparison.winner}</b> — {comparison.rule}</p>")
    sections = [Section("Winner", decision + table_html(header, rows, winner_index),
                        f"**Winner: {comparison.winner}** — {comparison.rule}\n\n" + table_markdown(header, rows))]
    stats_md = comparison.to_markdown()
    sections.append(Section("Statistics", f"<pre>{html.escape(stats_md)}</pre>", stats_md,
                            {"test_scores_boxplot": plots.score_boxplot({c.name: c.test_scores for c in candidates},
                                                                        metric, problem.direction)}))
    diag_rows, figures = [], {}
    for c in candidates:
        verdict, counts = diagnostics.overall_verdict([r.history for r in c.runs])
        diag_rows.append([c.name, verdict.label, verdict.reason,
                          ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))])
        figures[f"learning_curves_{_slug(c.name)}"] = plots.learning_curves(
            [r.history for r in c.runs], f"{c.name}: {len(c.runs)} seeds")
    dh = ["candidate", "verdict", "why", "seeds per verdict"]
    sections.append(Section("Diagnostics", table_html(dh, diag_rows), table_markdown(dh, diag_rows), figures))
    study_figures = {}
    for study in studies:
        for kind, fig in plots.study_plots(study).items():
            study_figures[f"{kind}_{_slug(study.study_name)}"] = fig
    sections.append(Section("Studies", "<p class='note'>Optimization history and hyperparameter importances "
                            "per study.</p>", "Optimization history and hyperparameter importances per study.",
                            study_figures))
    return sections


def _registry_section(f: Finalized) -> Section:
    text = (f"Registered <code>{f.model_name}</code> version {f.version} "
            f"({f.decision}). Final model refit on train + validation for {f.epochs} epochs; "
            f"test {f.metric} of the final model: {f.test_score:.4f}. Load it with "
            f"<code>models:/{f.model_name}@{f.alias}</code>.") if f.version else f"<p>{f.decision}</p>"
    return Section("Registry", f"<p>{text}</p>", text.replace("<code>", "`").replace("</code>", "`"))


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def format_result(result: ReportResult) -> str:
    lines = [f"winner: {result.winner.name} ({result.rule})",
             f"report: {result.html}", f"summary: {result.markdown}"]
    if result.finalized:
        lines.append(f"registry: {result.finalized.summary()}")
    return "\n".join(lines)
