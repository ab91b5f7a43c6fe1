"""Comparing candidates from their per-seed scores, with scipy.stats: summaries, normality, an omnibus
test, pairwise tests against the best with Holm's correction, effect sizes and bootstrap intervals.

Scores are compared in "higher is better" orientation internally (negated when minimising);
differences are reported in the metric's own units (candidate - best).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from reports.html import table_markdown


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni step-down adjusted p-values, in the input order (nan stays nan)."""
    p = np.asarray(pvalues, float)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid])]
    m = len(order)
    adjusted = np.full(len(p), np.nan)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def cliffs_delta(a: Sequence[float], b: Sequence[float]) -> float:
    """P(a > b) - P(a < b) over all pairs: 1 when every a beats every b, 0 for identical groups."""
    x, y = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return float(np.mean(x > y) - np.mean(x < y))


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Standardised mean difference (a - b) with the pooled standard deviation; 0 when it is 0."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 2 or len(y) < 2:
        return 0.0
    pooled = math.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return float((x.mean() - y.mean()) / pooled) if pooled > 0 else 0.0


def shapiro_p(values: Sequence[float]) -> float:
    """Shapiro–Wilk p-value (nan below 3 values; 1.0 for constant data)."""
    x = np.asarray(values, float)
    if len(x) < 3:
        return float("nan")
    if np.ptp(x) == 0:
        return 1.0
    return float(stats.shapiro(x).pvalue)


def _is_normal(values: Sequence[float], alpha: float) -> bool:
    p = shapiro_p(values)
    return not math.isnan(p) and p > alpha


def one_sided_test(worse: Sequence[float], better: Sequence[float], alpha: float, paired: bool) -> tuple[str, float]:
    """(test name, p) for H1: `worse` is lower than `better` (both oriented higher = better).

    Welch's t (paired: paired t) when Shapiro–Wilk does not reject normality for both, else
    Mann–Whitney U (paired: Wilcoxon signed-rank). Constant data are decided exactly.
    """
    a, b = np.asarray(worse, float), np.asarray(better, float)
    if min(len(a), len(b)) < 2:
        return "not enough seeds", float("nan")
    diff = a - b if paired else None
    if paired and np.ptp(diff) == 0:
        return "constant differences", 0.0 if diff[0] < 0 else 1.0
    if not paired and np.ptp(a) == 0 and np.ptp(b) == 0:
        return "constant scores", 0.0 if a[0] < b[0] else 1.0
    normal = _is_normal(a, alpha) and _is_normal(b, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if paired and normal:
            return "paired t-test", float(stats.ttest_rel(a, b, alternative="less").pvalue)
        if paired:
            return "Wilcoxon signed-rank", float(stats.wilcoxon(a, b, alternative="less", zero_method="zsplit").pvalue)
        if normal:
            return "Welch's t-test", float(stats.ttest_ind(a, b, equal_var=False, alternative="less").pvalue)
        return "Mann-Whitney U", float(stats.mannwhitneyu(a, b, alternative="less").pvalue)


def bootstrap_ci(a: Sequence[float], b: Sequence[float], paired: bool, n_boot: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(a) - mean(b) (paired: of the mean difference)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    point = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return (point, point)
    if (paired and np.ptp(x - y) == 0) or (not paired and np.ptp(x) == 0 and np.ptp(y) == 0):
        return (point, point)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if paired:
            res = stats.bootstrap((x - y,), np.mean, n_resamples=n_boot, method="percentile", rng=rng)
        else:
            res = stats.bootstrap((x, y), lambda u, v, axis=-1: u.mean(axis=axis) - v.mean(axis=axis),
                                  n_resamples=n_boot, method="percentile", rng=rng)
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


@dataclass
class Pairwise:
    """One candidate against the best: is it significantly worse?"""

    candidate: str
    test: str
    p_value: float
    p_holm: float
    mean_difference: float  # candidate - best, in the metric's units
    ci_low: float
    ci_high: float
    cliffs_delta: float  # oriented: negative = candidate worse
    cohens_d: float  # oriented: negative = candidate worse
    significantly_worse: bool


@dataclass
class Comparison:
    direction: str
    alpha: float
    paired: bool
    summary: pd.DataFrame
    omnibus: dict[str, Any] | None
    best: str
    pairwise: list[Pairwise]
    winner: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "alpha": self.alpha, "paired": self.paired,
                "summary": self.summary.reset_index().to_dict(orient="records"), "omnibus": self.omnibus,
                "best": self.best, "pairwise": [asdict(p) for p in self.pairwise], "winner": self.winner,
                "rule": self.rule}

    def to_markdown(self) -> str:
        cols = ["mean", "std", "sem", "min", "25%", "50%", "75%", "max", "shapiro_p"]
        if "params" in self.summary:
            cols.append("params")
        rows = [[name, int(r["count"])] + [_fmt(int(r[c]) if c == "params" and r[c] == r[c] else r[c]) for c in cols]
                for name, r in self.summary.iterrows()]
        out = [table_markdown(["candidate", "n"] + cols, rows), ""]
        if self.omnibus:
            out.append(f"Omnibus: {self.omnibus['test']} statistic={_fmt(self.omnibus['statistic'])}, "
                       f"p={_fmt(self.omnibus['p_value'])}" + (f" ({self.omnibus['note']})"
                                                             if self.omnibus.get("note") else ""))
        else:
            out.append("Omnibus: not applicable (two candidates: the pairwise test decides)")
        out.append("")
        out.append(f"Pairwise against the best ('{self.best}'), one-sided (candidate worse), Holm-corrected, "
                   f"alpha={self.alpha}:")
        rows = [[p.candidate, p.test, _fmt(p.p_value), _fmt(p.p_holm), _fmt(p.mean_difference),
                 f"[{_fmt(p.ci_low)}, {_fmt(p.ci_high)}]", _fmt(p.cliffs_delta), _fmt(p.cohens_d),
                 "yes" if p.significantly_worse else "no"] for p in self.pairwise]
        out.append(table_markdown(["candidate", "test", "p", "p (Holm)", "difference", "95% bootstrap CI",
                              "Cliff's delta", "Cohen's d", "significantly worse"], rows))
        out += ["", f"**Winner: {self.winner}** — {self.rule}"]
        return "\n".join(out)


@dataclass
class Decision:
    """Is a challenger significantly better than an incumbent?"""

    better: bool
    test: str
    p_value: float
    mean_difference: float  # challenger - incumbent, in the metric's units
    ci_low: float
    ci_high: float
    cliffs_delta: float
    cohens_d: float
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _orient(values: Sequence[float], direction: str) -> np.ndarray:
    x = np.asarray(values, float)
    return x if direction == "maximize" else -x


def compare(scores: dict[str, Sequence[float]], direction: str, params: dict[str, int] | None = None,
            alpha: float = 0.05, paired: bool = False, n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Summaries, omnibus and pairwise tests; the winner by best mean, or the smallest model among
    the candidates not significantly worse than the best when parameter counts are given."""
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be maximize or minimize, not {direction!r}")
    if not scores:
        raise ValueError("no candidates to compare")
    names = list(scores)
    if paired and len({len(v) for v in scores.values()}) != 1:
        raise ValueError("paired comparison needs the same number of scores for every candidate")
    oriented = {n: _orient(scores[n], direction) for n in names}
    summary = pd.DataFrame({n: pd.Series(np.asarray(scores[n], float)).describe() for n in names}).T
    summary["sem"] = [float(np.std(scores[n], ddof=1) / math.sqrt(len(scores[n]))) if len(scores[n]) > 1 else math.nan
                      for n in names]
    summary["shapiro_p"] = [shapiro_p(scores[n]) for n in names]
    if params:
        summary["params"] = [params.get(n, math.nan) for n in names]
    summary = summary.sort_values("mean", ascending=direction == "minimize")
    best = str(summary.index[0])

    omnibus = None
    if len(names) >= 3:
        omnibus = _omnibus([oriented[n] for n in names], paired)
    others = [n for n in names if n != best]
    raw = [one_sided_test(oriented[n], oriented[best], alpha, paired) for n in others]
    adjusted = holm([p for _, p in raw])
    pairwise = []
    for n, (test, p), p_adj in zip(others, raw, adjusted):
        low, high = bootstrap_ci(scores[n], scores[best], paired, n_boot, seed)
        pairwise.append(Pairwise(
            candidate=n, test=test, p_value=p, p_holm=p_adj,
            mean_difference=float(np.mean(scores[n]) - np.mean(scores[best])), ci_low=low, ci_high=high,
            cliffs_delta=cliffs_delta(oriented[n], oriented[best]), cohens_d=cohens_d(oriented[n], oriented[best]),
            significantly_worse=bool(not math.isnan(p_adj) and p_adj < alpha)))
    winner, rule = _winner(best, pairwise, params, summary, alpha)
    return Comparison(direction, alpha, paired, summary, omnibus, best, pairwise, winner, rule)


def _omnibus(groups: list[np.ndarray], paired: bool) -> dict[str, Any]:
    name = "Friedman" if paired else "Kruskal-Wallis"
    if min(len(g) for g in groups) < 2:
        return {"test": name, "statistic": math.nan, "p_value": math.nan, "note": "not enough seeds"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = stats.friedmanchisquare(*groups) if paired else stats.kruskal(*groups)
            stat, p = float(res.statistic), float(res.pvalue)
        except ValueError as exc:  # e.g. every value identical
            return {"test": name, "statistic": 0.0, "p_value": 1.0, "note": f"degenerate data: {exc}"}
    if math.isnan(p):
        return {"test": name, "statistic": 0.0, "p_value": 1.0, "note": "all scores identical"}
    return {"test": name, "statistic": stat, "p_value": p, "note": ""}


def _winner(best: str, pairwise: list[Pairwise], params: dict[str, int] | None, summary: pd.DataFrame,
            alpha: float) -> tuple[str, str]:
    close = [best] + [p.candidate for p in pairwise if not p.significantly_worse]
    if not params or len(close) == 1:
        why = "no other candidate is within noise of it" if len(close) == 1 else "no parameter counts given"
        return best, f"best mean ('{best}'); {why}"
    order = {name: rank for rank, name in enumerate(summary.index)}
    smallest = min(close, key=lambda n: (params.get(n, math.inf), order[n]))
    if smallest == best:
        return best, (f"best mean ('{best}'), which is also the smallest of the {len(close)} candidates not "
                      f"significantly worse than it (Holm-adjusted p >= {alpha})")
    return smallest, (f"smallest model ({params[smallest]:,} parameters) among the {len(close)} candidates not "
                      f"significantly worse than the best mean '{best}' (Holm-adjusted p >= {alpha})")


def significantly_better(challenger: Sequence[float], incumbent: Sequence[float], direction: str,
                         alpha: float = 0.05, paired: bool = False, n_boot: int = 2000, seed: int = 0) -> Decision:
    """One-sided test that the challenger's scores beat the incumbent's (same test selection rule)."""
    c, i = _orient(challenger, direction), _orient(incumbent, direction)
    test, p = one_sided_test(i, c, alpha, paired)  # H1: incumbent lower than challenger
    low, high = bootstrap_ci(challenger, incumbent, paired, n_boot, seed)
    notes = [] if not math.isnan(p) else ["not enough seeds to test"]
    return Decision(better=bool(not math.isnan(p) and p < alpha), test=test, p_value=p,
                    mean_difference=float(np.mean(challenger) - np.mean(incumbent)), ci_low=low, ci_high=high,
                    cliffs_delta=cliffs_delta(c, i), cohens_d=cohens_d(c, i), alpha=alpha, notes=notes)


def _fmt(value: Any) -> str:
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "—"
    return f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}"
