"""Claims about new data: is A's mean loss lower than B's on the examples a model will meet next?

Two things vary between a tuning run and the future: the seed (training randomness) and the test items
(which examples, or which stretch of a series, were held out). Every claim is a test of a mean on the
matrix of paired per-item losses, seeds x items, with a standard error that counts both sources
(Bouthillier et al. 2021, "Accounting for variance in machine learning benchmarks"):

    SE^2 = var(seed means of the differences) / S + var(item means of the differences) / n

and, where items are time steps (a forecast's test windows), the item term is a HAC (Newey-West) variance
of the item means with horizon - 1 lags (statsmodels), as the Diebold-Mariano test uses. The
statistic is referred to Student's t with Welch-Satterthwaite degrees of freedom of the two terms.

Losses are oriented: lower is better (1 - accuracy per item, absolute error, squared error for RMSE).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Items", "LossDifference", "fill_failed_items", "loss_difference", "seeds_only", "variance_sources"]


@dataclass(frozen=True)
class LossDifference:
    """mean(A's losses) - mean(B's losses) on the same items, with a standard error that counts the seeds
    and the items. Negative: A is better."""

    mean: float
    se: float
    df: float
    seeds: int  # seeds per model (1: a fixed model, only the items vary)
    items: int
    time_steps: bool = False
    seed_share: float = math.nan  # the seeds' share of SE^2 (the rest is the items')

    def p_below(self, bound: float = 0.0) -> float:
        """One-sided p of H1: the true mean difference is below `bound` (A better by more than -bound)."""
        return self._p((self.mean - bound), lower=True)

    def p_above(self, bound: float = 0.0) -> float:
        """One-sided p of H1: the true mean difference is above `bound` (A worse by more than bound)."""
        return self._p((self.mean - bound), lower=False)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Two-sided t interval of the mean difference; (nan, nan) when no variability was observed (a
        zero-width interval would claim certainty that a few runs cannot give)."""
        if not self.se > 0:
            return (math.nan, math.nan)
        half = float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se
        return (self.mean - half, self.mean + half)

    @property
    def sources(self) -> str:
        """The sources of variance this difference counts, for the sentence that states a claim."""
        return variance_sources(self.seeds, self.items, self.time_steps)

    def _p(self, centred: float, lower: bool) -> float:
        """nan where nothing can be tested: no variance estimate (one seed, one item), or none observed
        (a constant difference is no evidence of certainty; a claim needs a minimum effect besides)."""
        if math.isnan(centred) or math.isnan(self.se):
            return math.nan
        if self.se == 0:
            return 1.0 if centred == 0 else math.nan
        t = centred / self.se
        return float(stats.t.cdf(t, self.df) if lower else stats.t.sf(t, self.df))


def variance_sources(seeds: int, items: int, time_steps: bool = False) -> str:
    """What a claim counts, said in its sentence: "over 10 seeds and 1,000 test items"."""
    if items == 1:
        return f"over {seeds} seeds (test items not counted: the seeds' variance only)"
    unit = "consecutive test forecasts (HAC)" if time_steps else "test items"
    seeds_text = "one fixed model" if seeds == 1 else f"{seeds} seeds"
    return f"over {seeds_text} and {items:,} {unit}"


def loss_difference(a: np.ndarray, b: np.ndarray, time_steps: bool = False, lags: int | None = None,
                    horizon: int = 1) -> LossDifference:
    """A's per-item losses minus B's, seeds x items each (a 1-D array: one fixed model), on the same items.

    Same number of seeds: paired by seed (the pipeline trains seed s of each configuration from the same
    seed). Otherwise the seed terms of A and B add. `time_steps`: the items are consecutive forecasts,
    their term a HAC variance with `lags` (default horizon - 1, as the Diebold-Mariano test uses).
    """
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two models were scored on different items ({a.shape[1]} and {b.shape[1]})")
    n = a.shape[1]
    paired = a.shape[0] == b.shape[0]
    item_diff = a.mean(axis=0) - b.mean(axis=0)
    mean = float(item_diff.mean())
    if paired:
        seed_parts = [_term(np.mean(a - b, axis=1))]
    else:
        seed_parts = [_term(a.mean(axis=1)), _term(b.mean(axis=1))]
    item_part = _hac_term(item_diff, lags, horizon) if time_steps else _term(item_diff)
    one_run = not paired and min(a.shape[0], b.shape[0]) == 1  # a single run beside several: its seed variance
    if one_run or all(dof == 0 for _, dof in seed_parts + [item_part]):  # is unknown; one seed, one item: none
        return LossDifference(mean, math.nan, math.nan, int(min(a.shape[0], b.shape[0])), n, time_steps)
    parts = [p for p in seed_parts + [item_part] if p[0] > 0]
    var = sum(v for v, _ in parts)
    seed_var = sum(v for v, _ in seed_parts)
    df = var ** 2 / sum(v ** 2 / dof for v, dof in parts) if var > 0 else math.inf
    return LossDifference(mean, math.sqrt(var), float(df), int(min(a.shape[0], b.shape[0])), n, time_steps,
                          seed_var / var if var > 0 else math.nan)


def _term(values: np.ndarray) -> tuple[float, int]:
    """(variance of the mean of `values`, its degrees of freedom); (0, 0) for fewer than 2 values."""
    k = len(values)
    if k < 2:
        return 0.0, 0
    return float(np.var(values, ddof=1) / k), k - 1


def _hac_term(series: np.ndarray, lags: int | None, horizon: int) -> tuple[float, int]:
    """The Newey-West variance of the mean of a series (statsmodels' HAC, Bartlett kernel)."""
    from statsmodels.regression.linear_model import OLS

    n = len(series)
    if n < 3 or np.ptp(series) == 0:
        return _term(series)
    lags = horizon - 1 if lags is None else lags
    fit = OLS(series, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return float(fit.bse[0] ** 2), n - 1


@dataclass(frozen=True)
class Items:
    """Every model's per-item test losses (name -> seeds x items, lower is better), and how to read them:
    the equivalence margin as a margin of the mean item loss, and whether the items are consecutive
    forecasts (a HAC variance over them, horizon - 1 lags)."""

    losses: dict[str, np.ndarray]
    loss_margin: float | None = None
    time_steps: bool = False
    horizon: int = 1

    def difference(self, a: str, b: str, rows: slice = slice(None)) -> LossDifference:
        """A's losses minus B's on the seeds `rows` (the confirmation seeds)."""
        return loss_difference(self.losses[a][rows], self.losses[b][rows], self.time_steps, horizon=self.horizon)


def seeds_only(scores: dict[str, np.ndarray], direction: str, margin: float | None) -> Items:
    """Items when only each seed's score is known: one 'item' per seed (the score, oriented as a loss),
    so the test counts the seeds' variance alone, and says so ('test items not counted')."""
    sign = -1.0 if direction == "maximize" else 1.0
    return Items({n: sign * np.asarray(v, float).reshape(-1, 1) for n, v in scores.items()}, margin)


def fill_failed_items(losses: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A diverged seed (a row of nan) takes, item by item, the worst loss any run had on that item: a
    candidate that fails is judged worse on every item, never dropped (dropping keeps its lucky seeds)."""
    stacked = np.concatenate([np.atleast_2d(v) for v in losses.values()])
    if np.isnan(stacked).all():
        raise ValueError("every seed of every candidate diverged: nothing to compare")
    worst = np.nanmax(stacked, axis=0)
    worst = np.where(np.isnan(worst), np.nanmax(stacked), worst)
    return {n: np.where(np.isnan(np.atleast_2d(v)), worst, np.atleast_2d(v)) for n, v in losses.items()}
