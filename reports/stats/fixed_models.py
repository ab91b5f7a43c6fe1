"""Two fixed models on the same test items (a seed ensemble against the single seed model it would
replace; a forecast against a baseline forecast): is A's mean loss lower than B's?

Only the items vary between two fixed models, so the test is over items: McNemar's exact test on the
discordant items when each item is right or wrong, else a paired test of the per-item losses (a HAC
variance where the items are consecutive forecasts), and for forecasts the Diebold-Mariano test with the
Harvey-Leybourne-Newbold correction (statsmodels) on the per-window loss differentials."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from reports.stats.new_data import loss_difference, variance_sources
from reports.stats.render import fmt, jsonable

__all__ = ["FixedComparison", "diebold_mariano", "fixed_model_better"]


@dataclass(frozen=True)
class FixedComparison:
    """A's mean item loss against B's on the same items; `better`: A's is significantly lower."""

    better: bool
    test: str
    p_value: float  # one-sided, H1: A's mean loss is lower
    mean_difference: float  # mean loss of A - mean loss of B (negative: A better)
    ci_low: float  # 95% interval of mean_difference
    ci_high: float
    items: int
    statistic: float = math.nan
    detail: str = ""  # the discordant counts (McNemar) or the lags (HAC, DM)

    def sentence(self, a: str, b: str, alpha: float) -> str:
        """'<a> beats <b>: ...' with the numbers and what the claim counts."""
        verdict = "beats" if self.better else "does not beat"
        detail = f", {self.detail}" if self.detail else ""
        return (f"{a} {verdict} {b} on the same {self.items:,} test items (one fixed model each: only the items "
                f"vary): mean loss difference {fmt(self.mean_difference)} [{fmt(self.ci_low)}, {fmt(self.ci_high)}], "
                f"{self.test}{detail}, one-sided p={fmt(self.p_value)} {'<' if self.better else '>='} {alpha}")

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def fixed_model_better(a: np.ndarray, b: np.ndarray, alpha: float = 0.05, time_steps: bool = False,
                       horizon: int = 1) -> FixedComparison:
    """Is fixed model A's mean loss lower than fixed model B's on the same items (per-item losses)?

    Right-or-wrong items (every loss 0 or 1): McNemar's exact test, one-sided, on the discordant items
    (an exact binomial test of the items A gets right and B wrong among those they disagree on). Other
    losses: a paired t-test of the item differences, HAC over consecutive forecasts (`time_steps`)."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    n = len(a)
    diff = loss_difference(a, b, time_steps, horizon=horizon)
    low, high = diff.interval()
    if np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all():
        a_only, b_only = int(np.sum((a == 0) & (b == 1))), int(np.sum((a == 1) & (b == 0)))
        p = 1.0 if a_only + b_only == 0 else float(stats.binomtest(a_only, a_only + b_only, 0.5,
                                                                  alternative="greater").pvalue)
        return FixedComparison(p < alpha, "McNemar's exact test", p, diff.mean, low, high, n,
                               detail=f"{a_only} items right only by the first, {b_only} only by the second")
    p = diff.p_below(0.0)
    name = "paired t-test over items" + (" (HAC)" if time_steps else "")
    return FixedComparison(bool(p < alpha), name, p, diff.mean, low, high, n, diff.mean / diff.se if diff.se else 0.0)


def diebold_mariano(model: np.ndarray, baseline: np.ndarray, horizon: int = 1,
                    alpha: float = 0.05) -> FixedComparison:
    """Does a forecast beat a baseline forecast? The Diebold-Mariano test with the Harvey-Leybourne-Newbold
    small-sample correction (statsmodels), one-sided, on the per-window loss differentials (`model` and
    `baseline`: each test window's loss in the problem's own terms, e.g. squared error for RMSE), with the
    HAC variance of horizon - 1 lags the test was designed with (statsmodels' default of ceil(n^(1/3)) lags
    fired 13-16% under the null on 20-40 windows: bench/calibration). It asks whether the model is more
    accurate on the series' future, not on this one stretch of it."""
    from statsmodels.tsa.stattools import diebold_mariano_test

    m, b = np.asarray(model, float).ravel(), np.asarray(baseline, float).ravel()
    n = len(m)
    mean = float(np.mean(m - b))
    if n < 3 or np.ptp(m - b) == 0:
        p = 0.0 if mean < 0 and n >= 3 else 1.0
        return FixedComparison(bool(p < alpha), "Diebold-Mariano (HLN)", p, mean, mean, mean, n,
                               detail="every loss differential equal")
    result = diebold_mariano_test(np.zeros(n), m, b, criterion=lambda y, losses: losses, harvey_adj=True,
                                  horizon=horizon, lags=horizon - 1)
    p = float(stats.t.cdf(result.statistic, df=n - 1))  # H1: the model's loss is lower
    se = abs(mean / (result.statistic / result.harvey_adj_factor)) if result.statistic else math.inf
    half = float(stats.t.ppf(0.975, n - 1)) * se
    return FixedComparison(bool(p < alpha), "Diebold-Mariano (HLN)", p, mean, mean - half, mean + half, n,
                           float(result.statistic), f"DM={fmt(result.statistic)}, {result.lags} HAC lags, "
                           f"{variance_sources(1, n, True)}")
