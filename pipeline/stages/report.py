"""Report stage: re-evaluate the best candidates over many seeds on the test set, pick a winner with
statistics, write the HTML/Markdown report, then finalize and register the winner."""
from __future__ import annotations

import html
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from tqdm import tqdm

from pipeline import references
from pipeline.errors import UsageError
from pipeline.settings import JobSettings
from pipeline.problems import Problem, Splits, get_problem
from pipeline.seeding import report_seeds
from pipeline.architectures import resolve
from pipeline.stages.finalize import Finalized, config_key, finalize
from pipeline.storage import DEFAULT_RUNS_DIR, optuna_storage, silence_optuna, tracker_for
from pipeline.multi_seed import SeedListener, train_seeds
from pipeline.training import SeedRun
from reports import diagnostics, plots
from reports.html import Section, table_html, table_markdown, write_report
from reports.stats import compare
from search_spaces.loader import load_space

REFERENCE = "reference"


@dataclass
class ReportSettings(JobSettings):
    problem: str
    top_k: int = 5
    repeats: int = 30
    out_dir: Path = Path("reports/out")
    alpha: float = 0.05
    register: bool = True


@dataclass
class Candidate:
    name: str
    architecture: str
    hp: dict[str, Any]
    study: str | None = None
    trial: int | None = None
    tuning_value: float | None = None
    runs: list[SeedRun] = field(default_factory=list)
    test_scores: list[float] = field(default_factory=list)

    @property
    def n_params(self) -> int:
        return self.runs[0].n_params if self.runs else 0


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


def tuned_studies(problem: str, storage) -> list[optuna.Study]:
    """Every study of the problem in the storage that holds at least one complete trial."""
    studies = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if summary.user_attrs.get("problem") != problem:
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
            studies.append(study)
    return studies


def select_candidates(problem: Problem, studies: list[optuna.Study], top_k: int) -> list[Candidate]:
    """The top K complete trials across all studies (architectures compete), plus the reference."""
    trials = [(study, t) for study in studies for t in study.get_trials(deepcopy=False)
              if t.state == optuna.trial.TrialState.COMPLETE and "hp" in t.user_attrs]
    trials.sort(key=lambda st: st[1].value, reverse=problem.direction == "maximize")
    native = references.native(problem.name)
    ref_hp = references.reference_config(problem.name, load_space(native, problem.name))
    ref_key = config_key(native, resolve(ref_hp))
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for study, t in trials:
        arch = study.user_attrs["architecture"]
        key = config_key(arch, resolve(t.user_attrs["hp"]))
        if key in seen:
            continue
        seen.add(key)
        name = f"{arch}#{t.number}" if key != ref_key else f"{REFERENCE} ({arch}#{t.number})"
        candidates.append(Candidate(name, arch, dict(t.user_attrs["hp"]), study.study_name, t.number, t.value))
        if len(candidates) == top_k:
            break
    if ref_key not in seen:
        candidates.append(Candidate(REFERENCE, native, ref_hp))
    return candidates


def load_tuned(settings: ReportSettings) -> tuple[Problem, Splits, list[optuna.Study], dict[str, Any]]:
    """The problem and data the studies were tuned on, and the studies; a clear error if none."""
    storage = optuna_storage(settings.storage, settings.runs_dir)
    get_problem(settings.problem)  # unknown problem -> clear error before anything else
    studies = tuned_studies(settings.problem, storage)
    if not studies:
        raise UsageError(f"problem '{settings.problem}' has no finished trials yet; "
                         f"run `make tune PROBLEM={settings.problem}` first")
    data = studies[0].user_attrs["data"]
    problem = get_problem(settings.problem, **data["params"])
    return problem, problem.splits(seed=data["seed"], **data["sizes"]), studies, data


class _TestScorer(SeedListener):
    """Scores each finished seed run on the test set, drops its model and advances the progress bar."""

    def __init__(self, problem: Problem, splits: Splits, candidate: Candidate, bar: tqdm) -> None:
        self.problem, self.splits, self.candidate, self.bar = problem, splits, candidate, bar

    def finished(self, index: int, run: SeedRun) -> None:
        scores = self.problem.evaluate(run.model, self.splits.x_test, self.splits.y_test)
        self.candidate.test_scores.append(float(scores[self.problem.metric]))
        run.model = None
        self.candidate.runs.append(run)
        self.bar.set_postfix(candidate=self.candidate.name, refresh=False)
        self.bar.update(1)


def evaluate_candidates(problem: Problem, splits: Splits, candidates: list[Candidate], seeds: list[int],
                        progress: bool, fuse: bool = True) -> None:
    """Train each candidate on each seed (early stopping on validation) and score it on the test set."""
    bar = tqdm(total=len(candidates) * len(seeds), desc="re-evaluating", unit="run", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for candidate in candidates:
        train_seeds(problem, candidate.architecture, candidate.hp, seeds, (splits.x_train, splits.y_train),
                    (splits.x_val, splits.y_val), listener=_TestScorer(problem, splits, candidate, bar),
                    keep_models=True, fuse=fuse)
    bar.close()


def report(settings: ReportSettings) -> ReportResult:
    if settings.top_k < 1 or settings.repeats < 2:
        raise UsageError("TOP_K must be at least 1 and REPEATS at least 2")
    problem, splits, studies, data_spec = load_tuned(settings)
    tracker = tracker_for(settings.tracking, settings.runs_dir)
    silence_optuna()
    candidates = select_candidates(problem, studies, settings.top_k)
    seeds = report_seeds(settings.repeats)
    evaluate_candidates(problem, splits, candidates, seeds, settings.progress, settings.fuse)

    scores = {c.name: c.test_scores for c in candidates}
    comparison = compare(scores, problem.direction, params={c.name: c.n_params for c in candidates},
                         alpha=settings.alpha, paired=True)
    winner = next(c for c in candidates if c.name == comparison.winner)

    experiment_id = tracker.experiment_id(f"lstm-{problem.name}")
    run_id = tracker.start_run(experiment_id, f"report-{problem.name}", "report",
                               tags={"problem": problem.name, "winner": winner.name},
                               params={"top_k": settings.top_k, "repeats": settings.repeats, "alpha": settings.alpha,
                                       "seeds": seeds})
    for c in candidates:
        _log_candidate(tracker, experiment_id, run_id, problem, c)
    sections = _sections(problem, candidates, comparison, studies)
    finalized = None
    if settings.register:
        finalized = finalize(problem, splits, data_spec, winner, comparison, seeds, tracker, experiment_id,
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
