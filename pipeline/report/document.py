"""The report's document: its sections (winner, forecast, statistics, diagnostics, what to do next,
studies, registry) as HTML and Markdown, from the candidates and the comparison that chose among them."""
from __future__ import annotations

import html

import numpy as np

from pipeline.report.candidates import Candidate
from pipeline.champion import Finalized
from pipeline.report.forecast import ForecastReport
from pipeline.problems import Problem
from reports import diagnostics, plots
from reports.html import Link, Section, comparison_html, table_html, table_markdown
from reports.stats import Comparison


def report_sections(problem: Problem, candidates: list[Candidate], comparison: Comparison, studies,
                    forecast: ForecastReport | None = None, runs: dict[str, list[Link]] | None = None,
                    constant_loss: float | None = None) -> list[Section]:
    """The sections; `runs`: each candidate's MLflow runs (links); `constant_loss`: the loss of a constant
    prediction of the training targets (what the diagnostics call a high training loss)."""
    scale = diagnostics.Scale(problem.metric, problem.direction, comparison.margin or 0.0, constant_loss)
    verdicts = {c.name: _verdict(c, scale) for c in candidates}
    return [_winner(problem, candidates, comparison, forecast, runs or {}), *([forecast.section] if forecast else []),
            Section("Statistics", comparison_html(comparison), comparison.to_markdown(),
                    {"test_scores_boxplot": plots.score_boxplot(comparison.scores, problem.metric,
                                                                problem.direction)}),
            _diagnostics(candidates, verdicts),
            _next_steps(candidates, comparison, verdicts, forecast),
            _studies(studies)]


def _winner(problem: Problem, candidates: list[Candidate], comparison: Comparison,
            forecast: ForecastReport | None, runs: dict[str, list[Link]]) -> Section:
    """Every candidate's test scores (the primary metric and the problem's others; a forecast's baselines,
    skill and MASE) and its MLflow runs, the winner marked."""
    metric = problem.metric
    others = sorted({k for c in candidates for m in c.test_metrics for k in m} - {metric})
    if forecast:  # its columns say it against both baselines; the errors per step are in its own section
        others = [k for k in others if k not in ("naive_rmse", "skill", "mase") and not k.startswith("rmse_step")]
    forecast_header = list(next(iter(forecast.columns.values()))) if forecast else []
    estimates = comparison.summary["estimate"]
    rows = []
    for c in candidates:
        arr = np.asarray(comparison.scores[c.name])
        extra = [f"{np.mean([m[k] for m in c.test_metrics if k in m]):.4f}" if c.test_metrics else "—"
                 for k in others]
        rows.append([c.name, c.architecture, f"{c.n_params:,}", f"{arr.mean():.4f}", f"{arr.std(ddof=1):.4f}",
                     f"{np.median(arr):.4f}", f"{estimates[c.name]:.4f}", *extra,
                     *(forecast.columns[c.name].values() if forecast else []),
                     "—" if c.tuning_value is None else f"{c.tuning_value:.4f}",
                     (f"champion v{c.champion}" if c.champion else c.study or "book")
                     + (f"; {len(c.failures)} diverged" if c.failures else ""), runs.get(c.name) or "—"])
    header = ["candidate", "architecture", "parameters", f"test {metric} mean", "std", "median",
              "estimate (confirmation seeds)", *[f"test {k} mean" for k in others], *forecast_header,
              "tuning (validation) mean", "source", "MLflow runs"]
    winner_index = next(i for i, c in enumerate(candidates) if c.name == comparison.winner)
    facts = (f"Equivalence margin {comparison.margin:.4g} {metric}; the pairwise tests detect a mean item loss "
             f"difference of {comparison.detectable:.4g} with 80% power; the winner's test estimate: "
             f"{comparison.estimate:.4f}.")
    if forecast:
        facts += "".join(f" {line}." for line in forecast.verdict.lines())
    return Section("Winner", f"<p><b>Winner: {html.escape(comparison.winner)}</b> — "
                   f"{html.escape(comparison.rule)}</p><p>{html.escape(facts)}</p>" + table_html(header, rows, winner_index),
                   f"**Winner: {comparison.winner}** — {comparison.rule}\n\n{facts}\n\n"
                   + table_markdown(header, rows))


def _verdict(c: Candidate, scale: diagnostics.Scale) -> tuple[diagnostics.Verdict, dict[str, int]] | None:
    """The candidate's majority verdict and the count per verdict (diverged seeds too); None if all diverged."""
    histories = [r.history for r in c.runs if not r.failure]
    if not histories:
        return None
    verdict, counts = diagnostics.overall_verdict(histories, scale)
    return verdict, counts | ({"diverged": len(c.failures)} if c.failures else {})


def _diagnostics(candidates: list[Candidate], verdicts: dict) -> Section:
    rows, figures = [], {}
    for c in candidates:
        if verdicts[c.name] is None:
            rows.append([c.name, "diverged", "; ".join(c.failures), ""])
            continue
        verdict, counts = verdicts[c.name]
        rows.append([c.name, verdict.label, verdict.reason, ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))])
        histories = [r.history for r in c.runs if not r.failure]
        figures[f"learning_curves_{_slug(c.name)}"] = plots.learning_curves(histories, f"{c.name}: "
                                                                           f"{len(histories)} seeds")
    header = ["candidate", "verdict", "why", "seeds per verdict"]
    return Section("Diagnostics", table_html(header, rows), table_markdown(header, rows), figures)


def _next_steps(candidates: list[Candidate], comparison: Comparison, verdicts: dict,
                forecast: ForecastReport | None = None) -> Section:
    """A few plain sentences from the diagnostics and the statistics: what would most likely help."""
    found = verdicts.get(comparison.winner)
    verdict = found[0] if found else None
    steps = []
    if verdict is not None:
        steps.append(f"The winner's learning curves say {verdict.label}: "
                     f"{diagnostics.ADVICE[verdict.label]}.")
    if verdict is not None and verdict.label == diagnostics.UNDERFIT:
        steps.append("More training data helps an underfit model most: e.g. DATA=\"n_train=20000\".")
    if comparison.margin is not None and comparison.detectable > comparison.margin:
        steps.append(f"The tests detect differences of {comparison.detectable:.3g}, more than the margin "
                     f"{comparison.margin:.3g}: REPEATS=auto (or more seeds) before trusting a tie.")
    if forecast and forecast.verdict.veto:
        steps.append("The winner does not beat every baseline forecast: DATA=\"... difference=true\" when the series "
                     "trends past its training range, lags of at least one season, or features= with inputs "
                     "that explain it.")
    if any(c.failures for c in candidates):
        steps.append("Some seeds diverged: a lower learning rate (or gradient clipping) in the search space.")
    if not comparison.n_confirm:
        steps.append("With fewer than 4 seeds the winner's score is optimistic: REPEATS=10 or more.")
    steps = steps or ["Nothing stands out: tune longer (TRIALS, TIMEOUT) to search more configurations."]
    return Section("What to do next", "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in steps) + "</ul>",
                   "\n".join(f"- {s}" for s in steps))


def _studies(studies) -> Section:
    figures = {f"{kind}_{_slug(study.study_name)}": fig for study in studies
               for kind, fig in plots.study_plots(study).items()}
    text = "Per study: optimization history, hyperparameter importances, parallel coordinates and slices."
    return Section("Studies", f"<p class='note'>{text}</p>", text, figures)


def registry_section(f: Finalized) -> Section:
    text = (f"Registered <code>{f.model_name}</code> version {f.version} "
            f"({html.escape(f.decision)}). Final model refit on train + validation for {f.epochs} epochs; "
            f"test {f.metric} of the final model: {f.test_score:.4f}. Load it with "
            f"<code>models:/{f.model_name}@{f.alias}</code>.") if f.version else html.escape(f.decision)
    html_text, md_text = f"<p>{text}</p>", text.replace("<code>", "`").replace("</code>", "`")
    if f.choice is not None:  # single seed vs ensemble test scores, side by side (pipeline.champion.ensemble)
        header, rows = f.choice.table()
        html_text += f"<p>{html.escape(f.choice.rule)}</p>" + table_html(header, rows)
        md_text += f"\n\n{f.choice.rule}\n\n" + table_markdown(header, rows)
    return Section("Registry", html_text, md_text)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)
