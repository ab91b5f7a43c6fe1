"""Claims about new data: is A's mean loss lower than B's on the examples a model will meet next?

Two things vary between a tuning run and the future: the seed (training randomness) and the test items
(which examples, or which stretch of a series, were held out). Every claim is a test of a mean on the
matrix of paired per-item losses, seeds x items, with a standard error that counts both sources
(Bouthillier et al. 2021, "Accounting for variance in machine learning benchmarks"):

    SE^2 = var(seed means of the differences) / S + var(item means of the differences) / n

and, where items are time steps (a forecast's test windows), the item term is a HAC (Newey-West) variance
of the item means with at least horizon - 1 lags (statsmodels), as the Diebold-Mariano test uses. The
statistic is referred to Student's t with Welch-Satterthwaite degrees of freedom of the two terms.

Losses are oriented: lower is better (1 - accuracy per item, absolute error, squared error for RMSE).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["LossDifference", "loss_difference", "variance_sources"]


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
        """Two-sided t interval of the mean difference."""
        if self.se == 0:
            return (math.nan, math.nan) if math.isnan(self.mean) else (self.mean, self.mean)
        half = float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se
        return (self.mean - half, self.mean + half)

    @property
    def sources(self) -> str:
        """The sources of variance this difference counts, for the sentence that states a claim."""
        return variance_sources(self.seeds, self.items, self.time_steps)

    def _p(self, centred: float, lower: bool) -> float:
        if math.isnan(centred):
            return math.nan
        if self.se == 0:  # no variability at all: a difference of exactly zero is no evidence
            return 0.0 if (centred < 0 if lower else centred > 0) else 1.0
        t = centred / self.se
        return float(stats.t.cdf(t, self.df) if lower else stats.t.sf(t, self.df))


def variance_sources(seeds: int, items: int, time_steps: bool = False) -> str:
    unit = "test time steps (HAC)" if time_steps else "test items"
    seeds_text = "one fixed model" if seeds == 1 else f"{seeds} seeds"
    return f"over {seeds_text} and {items:,} {unit}"


def loss_difference(a: np.ndarray, b: np.ndarray, time_steps: bool = False, lags: int | None = None,
                    horizon: int = 1) -> LossDifference:
    """A's per-item losses minus B's, seeds x items each (a 1-D array: one fixed model), on the same items.

    Same number of seeds: paired by seed (the pipeline trains seed s of each configuration from the same
    seed). Otherwise the seed terms of A and B add. `time_steps`: the items are consecutive forecasts,
    their term a HAC variance with `lags` (default max(horizon - 1, ceil(n^(1/3))), statsmodels' DM rule).
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
    parts = [p for p in seed_parts + [item_part] if p[0] > 0]
    var = sum(v for v, _ in parts)
    seed_var = sum(v for v, _ in seed_parts)
    df = var ** 2 / sum(v ** 2 / dof for v, dof in parts) if var > 0 else float(max(n - 1, 1))
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
    lags = int(max(horizon - 1, math.ceil(n ** (1 / 3)))) if lags is None else lags
    fit = OLS(series, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return float(fit.bse[0] ** 2), n - 1
