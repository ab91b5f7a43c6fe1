"""The report's forecast part, for problems that forecast a series (csv): the naive and seasonal-naive
baselines beside every candidate, skill and MASE, the error per step ahead, the test period plotted, and
whether the forecast beats each baseline on the series' future: the Diebold-Mariano test with the
Harvey-Leybourne-Newbold correction on the per-window squared errors (reports.stats.diebold_mariano).

The report tests the winner's seeds' mean forecast; finalize tests the model it registers (`judge`), and a
model that does not beat every baseline (the better of naive and seasonal naive included) is registered
as challenger, never champion."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from pipeline.report.candidates import Candidate
from pipeline.problems import Problem, Splits
from pipeline.problems.forecast_baselines import Baseline, Baselines, skill
from reports import plots
from reports.html import Section, table_html, table_markdown
from reports.stats import Comparison, FixedComparison, diebold_mariano, fmt


@dataclass(frozen=True)
class ForecastTests:
    """A forecast against each baseline on the test windows (baseline name -> Diebold-Mariano test)."""

    model: str
    tests: dict[str, FixedComparison]
    alpha: float

    @property
    def beats_every_baseline(self) -> bool:
        return all(t.better for t in self.tests.values())

    def lines(self) -> list[str]:
        return [t.sentence(self.model, f"the {name} forecast", self.alpha) for name, t in self.tests.items()]

    @property
    def veto(self) -> str | None:
        """Why this forecast may not be champion (a baseline it does not beat), or None."""
        lost = [line for line, t in zip(self.lines(), self.tests.values()) if not t.better]
        return None if not lost else "; ".join(lost)


def judge(problem: Problem, forecast: np.ndarray, model: str, alpha: float) -> ForecastTests:
    """`forecast` (test windows x horizon, in the series' units) against the naive and seasonal-naive
    forecasts: one-sided DM-HLN tests on each window's squared error (its mean over the horizon)."""
    b = problem.baselines()
    horizon = b.naive.truth.shape[1]
    losses = ((np.asarray(forecast, float) - b.naive.truth) ** 2).mean(axis=1)
    tests = {base.name: diebold_mariano(losses, _window_losses(base), horizon, alpha) for base in _baselines(b)}
    return ForecastTests(model, tests, alpha)


def registered_judge(problem: Problem, splits: Splits, alpha: float):
    """The veto finalize applies to the model it registers (None unless the problem forecasts): the
    Diebold-Mariano tests of that model's own test forecast (an ensemble's is its seeds' mean)."""
    if not problem.forecasts:
        return None

    def veto(model) -> str | None:
        forecast = problem.test_forecasts(model.predict(splits.x_test, batch_size=256, verbose=0))
        return judge(problem, forecast, "the registered model", alpha).veto
    return veto


def _baselines(b: Baselines) -> list[Baseline]:
    return [base for base in (b.naive, b.seasonal) if base is not None]


def _window_losses(base: Baseline) -> np.ndarray:
    return ((base.forecast - base.truth) ** 2).mean(axis=1)


@dataclass
class ForecastReport:
    baselines: Baselines
    verdict: ForecastTests  # the winner's seeds' mean forecast against each baseline
    columns: dict[str, dict[str, str]]  # candidate -> winner-table cells (header -> text)
    candidate_metrics: dict[str, dict[str, float]]  # candidate -> MLflow metrics
    run_metrics: dict[str, float]  # the report run's MLflow metrics
    section: Section


def forecast_report(problem: Problem, candidates: list[Candidate], comparison: Comparison,
                    alpha: float = 0.05) -> ForecastReport | None:
    """None for problems that do not forecast a series."""
    if not problem.forecasts:
        return None
    b = problem.baselines()
    winner = next(c for c in candidates if c.name == comparison.winner)
    verdict = judge(problem, np.mean(winner.test_forecasts, axis=0),
                    f"'{winner.name}' (the mean forecast of its {len(winner.test_forecasts)} seeds)", alpha)
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
    section = _section(problem, candidates, comparison, b, verdict.lines())
    return ForecastReport(b, verdict, columns, metrics, _run_metrics(b, verdict), section)


def _run_metrics(b: Baselines, verdict: ForecastTests) -> dict[str, float]:
    """The baselines' errors and the winner's DM tests against each, as the report run's metrics."""
    metrics = {"naive_rmse": b.naive.rmse, "naive_mae": b.naive.mae, "naive_mase": b.mase(b.naive.mae),
               "winner_beats_every_baseline": float(verdict.beats_every_baseline)}
    for base, test in zip(_baselines(b), verdict.tests.values()):
        key = "naive" if base is b.naive else "seasonal_naive"
        metrics |= {f"winner_vs_{key}_dm": test.statistic, f"winner_vs_{key}_p": test.p_value,
                    f"winner_vs_{key}_loss_difference": test.mean_difference}
    if b.seasonal is not None:
        metrics |= {"season": float(b.season), "seasonal_naive_rmse": b.seasonal.rmse,
                    "seasonal_naive_mase": b.mase(b.seasonal.mae)}
    return metrics


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
