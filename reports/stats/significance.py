"""Hypothesis tests and effect sizes on per-seed scores, with scipy.stats.

Test choice per pair: Welch's t (paired: paired t) when Shapiro-Wilk does not reject normality for both
groups (p > alpha, n >= 3, non-constant data), otherwise Mann-Whitney U (paired: Wilcoxon signed-rank).
Degenerate inputs never raise: fewer than 2 scores -> p = nan ("not enough seeds"); all scores identical
-> p = 1.0 with a note.

scipy has no Holm correction (`scipy.stats.false_discovery_control` is Benjamini-Hochberg/-Yekutieli),
so `holm` is a few lines of step-down here.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
from scipy import stats

NOT_ENOUGH = "not enough seeds"
IDENTICAL = "identical scores"


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values, in the input order (nan stays nan and is not counted)."""
    p = np.asarray(pvalues, float)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    adjusted = np.full(len(p), np.nan)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return [float(v) for v in adjusted]


def cliffs_delta(a: Sequence[float], b: Sequence[float]) -> float:
    """P(a > b) - P(a < b) over all pairs: 1 when every a beats every b, 0 for identical groups (nan if empty)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    x, y = x[:, None], y[None, :]
    return float(np.mean(x > y) - np.mean(x < y))


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Standardised mean difference (a - b) over the pooled standard deviation; 0 when that is 0.

    nan when it cannot be estimated (an empty group, or a single score in each group).
    """
    x, y = np.asarray(a, float), np.asarray(b, float)
    dof = len(x) + len(y) - 2
    if len(x) == 0 or len(y) == 0 or dof < 1:
        return math.nan
    pooled = math.sqrt((np.sum((x - x.mean()) ** 2) + np.sum((y - y.mean()) ** 2)) / dof)
    return float((x.mean() - y.mean()) / pooled) if pooled > 0 else 0.0


def effect_size(a: Sequence[float], b: Sequence[float], paired: bool = False) -> float:
    """Standardised difference a - b: paired, d_z (mean of the differences over their SD); else Cohen's d."""
    if not paired:
        return cohens_d(a, b)
    d = np.asarray(a, float) - np.asarray(b, float)
    if len(d) < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    return float(d.mean() / sd) if sd > 0 else 0.0


def probability_of_improvement(a: Sequence[float], b: Sequence[float]) -> float:
    """P(a > b) + P(a = b) / 2 over all pairs of runs (rliable's probability of improvement; nan if empty)."""
    delta = cliffs_delta(a, b)
    return math.nan if math.isnan(delta) else (1.0 + delta) / 2.0


def shapiro_p(values: Sequence[float]) -> float:
    """Shapiro-Wilk p-value (nan below 3 values; 1.0 for constant data, as scipy reports it)."""
    x = np.asarray(values, float)
    if len(x) < 3:
        return math.nan
    if np.ptp(x) == 0:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.shapiro(x).pvalue)


def is_normal(values: np.ndarray, alpha: float) -> bool:
    """Normal enough for a t-test: n >= 3, not constant (a t-test on zero variance is degenerate) and
    Shapiro-Wilk does not reject normality at alpha."""
    if len(values) < 3 or np.ptp(values) == 0:
        return False
    return shapiro_p(values) > alpha


def one_sided_test(worse: Sequence[float], better: Sequence[float], alpha: float = 0.05,
                   paired: bool = False) -> tuple[str, float]:
    """(test name, p) for H1: `worse` is lower than `better` (both oriented so that higher is better).

    Paired: the paired t-test when Shapiro-Wilk does not reject normality of the differences, else the
    Wilcoxon signed-rank test. Unpaired: Welch's t when neither group rejects normality, else Mann-Whitney U.
    Fewer than 2 scores -> ("not enough seeds", nan); all scores identical (paired: every difference 0)
    -> ("identical scores", 1.0).
    """
    a, b = np.asarray(worse, float), np.asarray(better, float)
    if min(len(a), len(b)) < 2:
        return NOT_ENOUGH, math.nan
    if paired and len(a) != len(b):
        raise ValueError(f"paired test needs equal lengths, got {len(a)} and {len(b)}")
    if (paired and np.all(a == b)) or (not paired and np.ptp(np.concatenate([a, b])) == 0):
        return IDENTICAL, 1.0
    normal = is_normal(a - b, alpha) if paired else is_normal(a, alpha) and is_normal(b, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if paired and normal:
            name, p = "paired t-test", stats.ttest_rel(a, b, alternative="less").pvalue
        elif paired:
            name, p = "Wilcoxon signed-rank", stats.wilcoxon(a, b, alternative="less", zero_method="zsplit").pvalue
        elif normal:
            name, p = "Welch's t-test", stats.ttest_ind(a, b, equal_var=False, alternative="less").pvalue
        else:
            name, p = "Mann-Whitney U", stats.mannwhitneyu(a, b, alternative="less").pvalue
    p = float(p)
    return name, (1.0 if math.isnan(p) else p)  # nan only from degenerate data: no evidence of a difference


def omnibus_test(groups: list[np.ndarray], paired: bool) -> dict[str, Any]:
    """Friedman (paired) or Kruskal-Wallis: does any candidate differ at all? Degenerate data give p = 1
    with a note rather than an error, so a report is always written."""
    name = "Friedman" if paired else "Kruskal-Wallis"
    if min(len(g) for g in groups) < 2:
        return {"test": name, "statistic": math.nan, "p_value": math.nan, "note": NOT_ENOUGH}
    if np.ptp(np.concatenate(groups)) == 0 or (paired and all(np.array_equal(g, groups[0]) for g in groups)):
        return {"test": name, "statistic": 0.0, "p_value": 1.0, "note": "all scores identical: p set to 1"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = stats.friedmanchisquare(*groups) if paired else stats.kruskal(*groups)
            stat, p = float(res.statistic), float(res.pvalue)
        except ValueError as exc:  # degenerate data scipy refuses
            return {"test": name, "statistic": 0.0, "p_value": 1.0, "note": f"degenerate data ({exc}): p set to 1"}
    if math.isnan(p):
        return {"test": name, "statistic": 0.0, "p_value": 1.0, "note": "degenerate data: p set to 1"}
    return {"test": name, "statistic": stat, "p_value": p, "note": ""}
