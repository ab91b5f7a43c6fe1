"""The report's forecast part, for problems that forecast a series (csv): the naive and seasonal-naive
baselines beside every candidate, skill and MASE, the error per step ahead, the test period plotted, and
one plain line saying whether the winner beats the naive forecast, with its test."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from pipeline.report.candidates import Candidate
from pipeline.problems import Problem
from pipeline.problems.forecast_baselines import Baselines, skill
from reports import plots
from reports.html import Section, table_html, table_markdown
from reports.stats import BaselineTest, Comparison, beats_baseline, fmt

NAIVE = "the naive forecast (last value)"


@dataclass
class ForecastReport:
    baselines: Baselines
    verdict: BaselineTest  # the winner against the naive forecast: decides champion or challenger
    columns: dict[str, dict[str, str]]  # candidate -> winner-table cells (header -> text)
    candidate_metrics: dict[str, dict[str, float]]  # candidate -> MLflow metrics
    run_metrics: dict[str, float]  # the report run's MLflow metrics
    section: Section

    @property
    def veto(self) -> str | None:
        """Why the winner may not be champion (it does not beat the naive forecast), or None."""
        return None if self.verdict.beats else self.verdict.rule


def forecast_report(problem: Problem, candidates: list[Candidate], comparison: Comparison,
                    alpha: float = 0.05) -> ForecastReport | None:
    """None for problems that do not forecast a series."""
    if not problem.forecasts:
        return None
    b = problem.baselines()
    confirm = slice(-comparison.n_confirm, None) if comparison.n_confirm else slice(None)
    winner = comparison.winner
    metric = f"test {problem.metric}"
    verdict = beats_baseline(comparison.scores[winner][confirm], b.naive.rmse, problem.direction, alpha,
                             winner, NAIVE, metric)
    lines = [verdict.rule]
    if b.seasonal is not None:
        lines.append(beats_baseline(comparison.scores[winner][confirm], b.seasonal.rmse, problem.direction, alpha,
                                    winner, f"the {b.seasonal.name} forecast", metric).rule)
    columns, metrics = {}, {}
    for c in candidates:
        rmse = float(np.mean(comparison.scores[c.name]))
        mase = _mean(c, "mase")
        metrics[c.name] = {"test_naive_rmse": b.naive.rmse, "test_skill": skill(rmse, b.naive.rmse), "test_mase": mase}
        columns[c.name] = {"naive RMSE": fmt(b.naive.rmse), "skill vs naive": fmt(skill(rmse, b.naive.rmse), 3)}
        if b.seasonal is not None:
            metrics[c.name] |= {"test_seasonal_naive_rmse": b.seasonal.rmse,
                                "test_seasonal_skill": skill(rmse, b.seasonal.rmse)}
            columns[c.name] |= {"seasonal-naive RMSE": fmt(b.seasonal.rmse),
                                "skill vs seasonal naive": fmt(skill(rmse, b.seasonal.rmse), 3)}
        columns[c.name]["MASE"] = fmt(mase, 3)
    run_metrics = {"naive_rmse": b.naive.rmse, "naive_mae": b.naive.mae, "naive_mase": b.mase(b.naive.mae),
                   "winner_beats_naive": float(verdict.beats), "winner_vs_naive_p": verdict.p_value}
    if b.seasonal is not None:
        run_metrics |= {"season": float(b.season), "seasonal_naive_rmse": b.seasonal.rmse,
                        "seasonal_naive_mase": b.mase(b.seasonal.mae)}
    section = _section(problem, candidates, comparison, b, lines)
    return ForecastReport(b, verdict, columns, metrics, run_metrics, section)


def _mean(c: Candidate, key: str) -> float:
    values = [m[key] for m in c.test_metrics if key in m]
    return float(np.mean(values)) if values else float("nan")


def _section(problem: Problem, candidates: list[Candidate], comparison: Comparison, b: Baselines,
             lines: list[str]) -> Section:
    """The plain lines, a table of errors (per step when the horizon is over 1) and the test-period plot."""
    horizon = b.naive.truth.shape[1]
    steps = [f"RMSE step {k}" for k in range(1, horizon + 1)] if horizon > 1 else []
    header = ["forecast", "RMSE", "MAE", "MASE", *steps]
    rows = [[c.name, fmt(np.mean(comparison.scores[c.name])), fmt(_mean(c, "mae")), fmt(_mean(c, "mase"), 3),
             *[fmt(_mean(c, f"rmse_step{k}")) for k in range(1, len(steps) + 1)]] for c in candidates]
    for base in (b.naive, b.seasonal):
        if base is not None:
            rows.append([base.name, fmt(base.rmse), fmt(base.mae), fmt(b.mase(base.mae), 3),
                         *[fmt(v) for v in base.rmse_per_step[:len(steps)]]])
    notes = (f"Test period: {len(b.naive.truth)} forecasts of {horizon} step(s); {b.season_note}; MASE scales "
             f"the MAE by the training part's {'seasonal ' if b.season else ''}naive MAE ({fmt(b.mase_scale)}).")
    figures = {}
    winner = next(c for c in candidates if c.name == comparison.winner)
    if winner.test_forecasts:
        dates = problem.test_dates()
        x = np.arange(1, len(b.naive.truth) + 1) if dates is None else dates
        baselines = {base.name: base.forecast[:, 0] for base in (b.naive, b.seasonal) if base is not None}
        figures["forecast_test_period"] = plots.forecast_plot(
            x, b.naive.truth[:, 0], np.stack([f[:, 0] for f in winner.test_forecasts]), baselines, winner.name,
            problem.params.get("target") or "value", f"test period, 1 step ahead: {winner.name}")
    body = "".join(f"<p><b>{html.escape(line)}</b></p>" for line in lines)
    return Section("Forecast", body + f"<p class='note'>{html.escape(notes)}</p>" + table_html(header, rows),
                   "\n\n".join(f"**{line}**" for line in lines) + f"\n\n{notes}\n\n" + table_markdown(header, rows),
                   figures)
