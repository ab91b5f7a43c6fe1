"""Comparing candidates from their per-seed scores, with scipy.stats: summaries, normality, an omnibus
test, pairwise tests against the best with Holm's correction, effect sizes and bootstrap intervals.

Spec: /work/shared/spec/tuning.md, "Choosing the winner".

Conventions
- Tests and effect sizes work in "higher is better" orientation (scores negated when minimising), so a
  negative Cliff's delta / Cohen's d always means "the candidate is worse than the reference".
- Differences of means and their bootstrap intervals are in the metric's own units (candidate - best,
  challenger - incumbent), not oriented.
- Test choice per pair: Welch's t (paired: paired t) when Shapiro-Wilk does not reject normality for both
  groups (p > alpha, n >= 3, non-constant data), otherwise Mann-Whitney U (paired: Wilcoxon signed-rank).
- Degenerate inputs never raise: fewer than 2 scores -> p = nan ("not enough seeds"); all scores identical
  -> p = 1.0 with a note.

scipy has no Holm correction (`scipy.stats.false_discovery_control` is Benjamini-Hochberg/-Yekutieli),
so `holm` is a few lines of step-down here.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = ["BaselineTest", "Comparison", "Decision", "Pairwise", "Promotion", "beats_baseline", "bootstrap_ci",
           "cliffs_delta", "cohens_d", "compare",
           "decide_promotion", "detectable_difference", "effect_size", "fill_failed", "fmt", "holm", "iqm", "iqm_ci",
           "one_sided_test", "probability_of_improvement", "seeds_for", "shapiro_p", "significantly_better"]

DIRECTIONS = ("maximize", "minimize")
NOT_ENOUGH = "not enough seeds"
IDENTICAL = "identical scores"


# ----------------------------------------------------------------------------------------------------------
# building blocks


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


def _is_normal(values: np.ndarray, alpha: float) -> bool:
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
    normal = _is_normal(a - b, alpha) if paired else _is_normal(a, alpha) and _is_normal(b, alpha)
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


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% of the scores (robust to a few diverging seeds)."""
    x = np.asarray(values, float)
    return float(stats.trim_mean(x, 0.25)) if len(x) else math.nan


def iqm_ci(values: Sequence[float], n_boot: int = 2000, seed: int = 0,
           confidence: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of the IQM, resampling this candidate's seeds only (stratified, as
    rliable does); (v, v) for constant data or fewer than 2 scores."""
    x = np.asarray(values, float)
    if len(x) == 0 or n_boot == 0:  # n_boot 0: no interval (simulations that need only the decisions)
        return (math.nan, math.nan)
    if len(x) < 2 or np.ptp(x) == 0:
        return (iqm(x), iqm(x))
    rng = np.random.default_rng(seed)
    boots = stats.trim_mean(x[rng.integers(0, len(x), (n_boot, len(x)))], 0.25, axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boots, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_ci(a: Sequence[float], b: Sequence[float], paired: bool = False, n_boot: int = 2000,
                 seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Seeded studentized-bootstrap (bootstrap-t) interval of mean(a) - mean(b) (paired: of the mean of a - b).

    The percentile bootstrap covers about 90% at 10 seeds for a nominal 95%; bootstrap-t keeps its
    coverage at small n (bench/calibration measures both). (d, d) for constant data or fewer than 2
    scores in a group; (nan, nan) for an empty group.
    """
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) == 0 or len(y) == 0 or n_boot == 0:  # n_boot 0: no interval (simulations of the decisions)
        return (math.nan, math.nan)
    point = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return (point, point)
    if paired and len(x) != len(y):
        raise ValueError(f"paired interval needs equal lengths, got {len(x)} and {len(y)}")
    if (paired and np.ptp(x - y) == 0) or (not paired and np.ptp(x) == 0 and np.ptp(y) == 0):
        return (point, point)
    rng = np.random.default_rng(seed)
    if paired:
        d = x - y
        se = d.std(ddof=1) / math.sqrt(len(d))
        boot = d[rng.integers(0, len(d), (n_boot, len(d)))]
        means, ses = boot.mean(axis=1), boot.std(axis=1, ddof=1) / math.sqrt(len(d))
    else:
        se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
        bx, by = x[rng.integers(0, len(x), (n_boot, len(x)))], y[rng.integers(0, len(y), (n_boot, len(y)))]
        means = bx.mean(axis=1) - by.mean(axis=1)
        ses = np.sqrt(bx.var(axis=1, ddof=1) / len(x) + by.var(axis=1, ddof=1) / len(y))
    ok = ses > 0
    if ok.sum() < 10:  # almost every resample constant (a few distinct values): no studentized interval
        return (point, point)
    t = (means[ok] - point) / ses[ok]
    tail = (1 - confidence) / 2
    q_low, q_high = np.quantile(t, [tail, 1 - tail])
    return (point - float(q_high) * se, point - float(q_low) * se)


def detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> float:
    """The smallest true difference a one-sided t-test at `alpha` detects with `power`, for n seeds.

    Paired: sd is the SD of the per-seed differences (one-sample t, n - 1 df); unpaired: the common SD of
    each group of n (two-sample t, 2n - 2 df). nan when it cannot be computed (n < 2 or sd unknown)."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    df, se = (n - 1, sd / math.sqrt(n)) if paired else (2 * n - 2, sd * math.sqrt(2.0 / n))
    critical = stats.t.ppf(1 - alpha, df)

    def shortfall(delta: float) -> float:
        return float(stats.nct.sf(critical, df, delta / se)) - power

    return float(optimize.brentq(shortfall, 0.0, 50 * se + 1e-12))


def seeds_for(margin: float, sd: float, alpha: float = 0.05, power: float = 0.8, paired: bool = True,
              low: int = 3, cap: int = 100) -> int:
    """The fewest seeds (from `low`, at most `cap`) whose detectable difference is within `margin`."""
    for n in range(max(2, low), cap + 1):
        if detectable_difference(sd, n, alpha, power, paired) <= margin:
            return n
    return cap


# ----------------------------------------------------------------------------------------------------------
# results


@dataclass
class Pairwise:
    """One candidate against the chosen best, on the confirmation seeds."""

    candidate: str
    test: str
    p_value: float  # one-sided, H1: the candidate is worse than the best
    p_holm: float  # Holm-adjusted across all candidates
    mean_difference: float  # candidate - best, in the metric's units
    ci_low: float  # bootstrap-t interval of mean_difference
    ci_high: float
    cliffs_delta: float  # oriented: negative = candidate worse
    cohens_d: float  # oriented, negative = candidate worse; paired: d_z
    significantly_worse: bool
    probability_of_improvement: float = math.nan  # oriented P(candidate > best)
    p_equivalent: float = math.nan  # one-sided, H1: the candidate is worse by less than the margin
    p_equivalent_holm: float = math.nan
    equivalent: bool = False  # shown within the margin of the best (Holm-adjusted p_equivalent < alpha)
    note: str = ""


@dataclass
class Comparison:
    direction: str
    alpha: float
    paired: bool
    summary: pd.DataFrame  # index: candidate, best first; all seeds, plus the confirmation estimate
    omnibus: dict[str, Any] | None  # {"test", "statistic", "p_value", "note"}; None with fewer than 3 candidates
    best: str  # best mean on the selection seeds
    pairwise: list[Pairwise]  # every other candidate against the best, on the confirmation seeds
    winner: str
    rule: str
    margin: float | None = None  # equivalence margin in the metric's units
    n_select: int = 0  # seeds (per candidate) that chose the best
    n_confirm: int = 0  # seeds (per candidate) that tested and estimated; 0: the same seeds did both
    estimate: float = math.nan  # the winner's mean on the confirmation seeds: unbiased by the choice
    detectable: float = math.nan  # smallest difference the pairwise tests detect with 80% power
    scores: dict[str, list[float]] = field(default_factory=dict, repr=False)  # what was compared, by candidate

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (strict JSON: nan becomes None); the summary as a list of records."""
        summary = self.summary.rename_axis("candidate").reset_index().to_dict(orient="records")
        return _jsonable({"direction": self.direction, "alpha": self.alpha, "paired": self.paired,
                          "summary": summary, "omnibus": self.omnibus, "best": self.best,
                          "pairwise": [asdict(p) for p in self.pairwise], "winner": self.winner, "rule": self.rule,
                          "margin": self.margin, "n_select": self.n_select, "n_confirm": self.n_confirm,
                          "estimate": self.estimate, "detectable_difference": self.detectable})

    def to_markdown(self) -> str:
        """A compact Markdown section: summary table, omnibus line, pairwise table, winner and rule."""
        cols = ["mean", "std", "iqm", "iqm_low", "iqm_high", "min", "25%", "50%", "75%", "max", "estimate"]
        if "params" in self.summary:
            cols.append("params")
        rows = []
        for name, r in self.summary.iterrows():
            cells = [name, int(r["count"])]
            for c in cols:
                v = r[c]
                cells.append(fmt(int(v)) if c == "params" and not pd.isna(v) else fmt(v))
            rows.append(cells)
        names = {"iqm": "IQM", "iqm_low": "IQM 95% low", "iqm_high": "IQM 95% high",
                 "estimate": "confirmation mean"}
        headers = ["candidate", "n"] + [names.get(c, c) for c in cols]
        split = (f"best chosen on {self.n_select} seeds, tested and estimated on {self.n_confirm} others"
                 if self.n_confirm else "best chosen, tested and estimated on the same seeds")
        margin = "none" if self.margin is None else fmt(self.margin)
        out = [f"Direction: {self.direction}; {'paired' if self.paired else 'unpaired'} seeds; alpha={self.alpha}; "
               f"{split}; equivalence margin: {margin}; detectable difference (80% power): {fmt(self.detectable)}",
               "", _md_table(headers, rows), ""]
        if self.omnibus:
            note = f" ({self.omnibus['note']})" if self.omnibus.get("note") else ""
            out.append(f"Omnibus: {self.omnibus['test']} statistic={fmt(self.omnibus['statistic'])}, "
                       f"p={fmt(self.omnibus['p_value'])}{note}")
        else:
            out.append("Omnibus: not applicable (fewer than three candidates: the pairwise test decides)")
        out.append("")
        if self.pairwise:
            out.append(f"Pairwise against the best ('{self.best}'), one-sided (candidate worse), "
                       f"Holm-corrected, alpha={self.alpha}:")
            out.append("")
            rows = [[p.candidate, p.test + (f" ({p.note})" if p.note else ""), fmt(p.p_value), fmt(p.p_holm),
                     fmt(p.mean_difference), f"[{fmt(p.ci_low)}, {fmt(p.ci_high)}]", fmt(p.cliffs_delta),
                     fmt(p.cohens_d), fmt(p.probability_of_improvement), fmt(p.p_equivalent_holm),
                     "yes" if p.significantly_worse else "no"] for p in self.pairwise]
            out.append(_md_table(["candidate", "test", "p", "p (Holm)", "difference", "95% bootstrap CI",
                                  "Cliff's delta", "d (paired: d_z)", "P(improvement)",
                                  "p equivalent (Holm)", "significantly worse"], rows))
            out.append("")
        out.append(f"**Winner: {self.winner}** — {self.rule}")
        return "\n".join(out)


@dataclass
class Decision:
    """Is a challenger significantly better than an incumbent?"""

    better: bool
    test: str
    p_value: float  # one-sided, H1: the challenger is better
    mean_difference: float  # challenger - incumbent, in the metric's units
    ci_low: float
    ci_high: float
    cliffs_delta: float  # oriented: positive = challenger better
    cohens_d: float  # oriented: positive = challenger better; paired: d_z
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)
    name: str = ""  # the challenger's name (decide_promotion)
    p_holm: float = math.nan  # Holm-adjusted over every challenger (decide_promotion)
    probability_of_improvement: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (strict JSON: nan becomes None)."""
        return _jsonable(asdict(self))


@dataclass
class Promotion:
    """The decision over any number of challengers against one baseline, error held at alpha over all."""

    winner: str | None  # the promoted challenger, None when the baseline stays
    best: str  # the challenger with the best mean (the one kept as challenger when nothing is promoted)
    decisions: list[Decision]  # one per challenger, in the input order
    alpha: float
    rule: str

    @property
    def better(self) -> bool:
        return self.winner is not None

    def decision(self, name: str) -> Decision:
        return next(d for d in self.decisions if d.name == name)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"winner": self.winner, "best": self.best, "alpha": self.alpha, "rule": self.rule,
                          "decisions": [asdict(d) for d in self.decisions]})

    def to_markdown(self) -> str:
        rows = [[d.name, d.test, fmt(d.p_value), fmt(d.p_holm), fmt(d.mean_difference),
                 f"[{fmt(d.ci_low)}, {fmt(d.ci_high)}]", fmt(d.cohens_d), fmt(d.probability_of_improvement),
                 "yes" if d.better else "no"] for d in self.decisions]
        table = _md_table(["challenger", "test", "p", "p (Holm)", "difference", "95% bootstrap CI",
                           "d (paired: d_z)", "P(improvement)", "significantly better"], rows)
        return f"One-sided tests against the baseline, Holm over every challenger, alpha={self.alpha}:\n\n" \
               f"{table}\n\n**{self.rule}**"


# ----------------------------------------------------------------------------------------------------------
# public functions


def compare(scores: dict[str, Sequence[float]], direction: str, params: dict[str, int] | None = None,
            alpha: float = 0.05, paired: bool = False, margin: float | None = None, holdout: bool = True,
            n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Choose a winner among candidates from their per-seed scores.

    1. Selection without the winner's curse: with `holdout` and at least 4 scores per candidate, the best
       mean is chosen on the first half of each candidate's seeds and everything else (tests, the winner's
       estimate) uses the other half, so the best is fixed before the data that judge it are seen.
    2. One-sided tests of each other candidate against that best (Holm-corrected), claimed only when the
       omnibus test (Friedman paired, Kruskal-Wallis unpaired; three or more candidates) rejects too.
    3. The smaller-model rule needs an equivalence `margin` (metric units): a smaller model replaces the
       best only when shown to be worse by less than the margin (one-sided test of difference > -margin,
       the lower half of TOST, Holm-corrected). Without a margin or parameter counts the best wins.
    """
    _check_direction(direction)
    if not scores:
        raise ValueError("no candidates to compare")
    names = [str(n) for n in scores]
    values = {str(n): np.asarray(v, float).ravel() for n, v in scores.items()}
    if paired and len({len(v) for v in values.values()}) != 1:
        raise ValueError("paired comparison needs the same number of scores for every candidate, got "
                         + ", ".join(f"{n}={len(v)}" for n, v in values.items()))
    split = holdout and min(len(v) for v in values.values()) >= 4
    select = {n: v[:len(v) // 2] for n, v in values.items()} if split else values
    confirm = {n: v[len(v) // 2:] for n, v in values.items()} if split else values
    oriented = {n: _orient(confirm[n], direction) for n in names}

    means = {n: _mean(_orient(select[n], direction)) for n in names}  # oriented: higher is better
    order = sorted(names, key=lambda n: (math.isnan(means[n]), -means[n] if not math.isnan(means[n]) else 0.0))
    best = order[0]
    summary = _summary(values, order, params, n_boot, seed)
    summary["estimate"] = [_mean(confirm[n]) for n in order]

    omnibus = _omnibus([oriented[n] for n in names], paired) if len(names) >= 3 else None
    gate = omnibus is None or (not math.isnan(omnibus["p_value"]) and omnibus["p_value"] < alpha)
    others = [n for n in order if n != best]
    raw = [one_sided_test(oriented[n], oriented[best], alpha, paired) for n in others]
    adjusted = holm([p for _, p in raw])
    equivalence = ([one_sided_test(oriented[best], oriented[n] + margin, alpha, paired)[1] for n in others]
                   if margin is not None else [math.nan] * len(others))
    equivalence_adjusted = holm(equivalence)
    pairwise = []
    for n, (test, p), p_adj, p_eq, p_eq_adj in zip(others, raw, adjusted, equivalence, equivalence_adjusted):
        low, high = bootstrap_ci(confirm[n], confirm[best], paired, n_boot, seed)
        note = {NOT_ENOUGH: "tests not applicable", IDENTICAL: "p set to 1"}.get(test, "")
        pairwise.append(Pairwise(
            candidate=n, test=test, p_value=p, p_holm=p_adj,
            mean_difference=_mean(confirm[n]) - _mean(confirm[best]), ci_low=low, ci_high=high,
            cliffs_delta=cliffs_delta(oriented[n], oriented[best]),
            cohens_d=effect_size(oriented[n], oriented[best], paired),
            significantly_worse=bool(gate and not math.isnan(p_adj) and p_adj < alpha),
            probability_of_improvement=probability_of_improvement(oriented[n], oriented[best]),
            p_equivalent=p_eq, p_equivalent_holm=p_eq_adj,
            equivalent=bool(not math.isnan(p_eq_adj) and p_eq_adj < alpha), note=note))
    winner, rule = _winner(best, order, pairwise, params, alpha, margin)
    n_select, n_confirm = (min(len(v) for v in select.values()), min(len(v) for v in confirm.values())) \
        if split else (min(len(v) for v in values.values()), 0)
    detectable = _detectable(confirm, best, others, alpha, paired)
    comparison = Comparison(direction, alpha, paired, summary, omnibus, best, pairwise, winner, rule, margin,
                            n_select, n_confirm, _mean(confirm[winner]), detectable,
                            {n: [float(x) for x in v] for n, v in values.items()})
    comparison.rule = rule + _split_sentence(comparison)
    return comparison


def significantly_better(challenger: Sequence[float], incumbent: Sequence[float], direction: str,
                         alpha: float = 0.05, paired: bool = False, n_boot: int = 2000, seed: int = 0) -> Decision:
    """One-sided test that the challenger's scores beat the incumbent's (the test selection rule of
    `one_sided_test`), with effect sizes and a bootstrap-t interval of challenger - incumbent."""
    _check_direction(direction)
    ch, inc = np.asarray(challenger, float).ravel(), np.asarray(incumbent, float).ravel()
    c, i = _orient(ch, direction), _orient(inc, direction)
    test, p = one_sided_test(i, c, alpha, paired)  # H1: incumbent lower (worse) than challenger
    notes = []
    if test == NOT_ENOUGH:
        notes.append(f"not enough seeds to test (challenger {len(ch)}, incumbent {len(inc)})")
    elif test == IDENTICAL:
        notes.append("all scores identical: p set to 1")
    low, high = bootstrap_ci(ch, inc, paired, n_boot, seed)
    return Decision(better=bool(not math.isnan(p) and p < alpha), test=test, p_value=p,
                    mean_difference=_mean(ch) - _mean(inc), ci_low=low, ci_high=high,
                    cliffs_delta=cliffs_delta(c, i), cohens_d=effect_size(c, i, paired), alpha=alpha, notes=notes,
                    probability_of_improvement=probability_of_improvement(c, i))


def fill_failed(scores: dict[str, Sequence[float]], direction: str) -> tuple[dict[str, list[float]], str]:
    """Seeds that diverged (nan) score the worst finite score of any candidate, so a candidate that fails
    is judged worse, never dropped (dropping would keep only its lucky seeds). Returns the scores and the
    rule sentence ("" when no seed failed)."""
    _check_direction(direction)
    finite = [v for values in scores.values() for v in values if math.isfinite(v)]
    failed = {n: sum(not math.isfinite(v) for v in values) for n, values in scores.items()}
    if not any(failed.values()):
        return {n: [float(v) for v in values] for n, values in scores.items()}, ""
    if not finite:
        raise ValueError("every seed of every candidate diverged: nothing to compare")
    worst = min(finite) if direction == "maximize" else max(finite)
    filled = {n: [float(v) if math.isfinite(v) else worst for v in values] for n, values in scores.items()}
    listed = ", ".join(f"{n}: {k}" for n, k in failed.items() if k)
    return filled, f"diverged seeds ({listed}) scored the worst score of any run ({fmt(worst)})"


def decide_promotion(challengers: dict[str, Sequence[float]], baseline: Sequence[float], direction: str,
                     alpha: float = 0.05, paired: bool = False, baseline_name: str = "baseline",
                     n_boot: int = 2000, seed: int = 0) -> Promotion:
    """Promote a challenger only when it is significantly better than the baseline with the family-wise
    error held at alpha over every challenger tried: one-sided tests against the (fixed, not chosen)
    baseline, Holm-adjusted; among the challengers that pass, the best mean is promoted."""
    _check_direction(direction)
    if not challengers:
        raise ValueError("no challengers to decide on")
    decisions = [significantly_better(v, baseline, direction, alpha, paired, n_boot, seed)
                 for v in challengers.values()]
    for name, d, p_adj in zip(challengers, decisions, holm([d.p_value for d in decisions])):
        d.name, d.p_holm = str(name), p_adj
        d.better = bool(not math.isnan(p_adj) and p_adj < alpha)
    sign = 1 if direction == "maximize" else -1
    best = max(decisions, key=lambda d: sign * d.mean_difference if not math.isnan(d.mean_difference) else -math.inf)
    passed = [d for d in decisions if d.better]
    m = len(decisions)
    if not passed:
        return Promotion(None, best.name, decisions, alpha,
                         f"'{baseline_name}' kept: no challenger of {m} is significantly better "
                         f"(best '{best.name}': {best.test}, p={fmt(best.p_value)}, Holm over {m}: "
                         f"{fmt(best.p_holm)} >= {alpha})")
    winner = max(passed, key=lambda d: sign * d.mean_difference)
    return Promotion(winner.name, best.name, decisions, alpha,
                     f"'{winner.name}' promoted: significantly better than '{baseline_name}' "
                     f"({winner.test}, p={fmt(winner.p_value)}, Holm over {m} challenger(s): "
                     f"{fmt(winner.p_holm)} < {alpha}; difference {fmt(winner.mean_difference)}, "
                     f"95% CI [{fmt(winner.ci_low)}, {fmt(winner.ci_high)}])")


# ----------------------------------------------------------------------------------------------------------
# helpers


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def _orient(values: np.ndarray, direction: str) -> np.ndarray:
    return values if direction == "maximize" else -values


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def _summary(values: dict[str, np.ndarray], names: list[str], params: dict[str, int] | None,
             n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    summary = pd.DataFrame({n: pd.Series(values[n], dtype=float).describe() for n in names}).T
    summary["sem"] = [float(values[n].std(ddof=1) / math.sqrt(len(values[n]))) if len(values[n]) > 1 else math.nan
                      for n in names]
    summary["shapiro_p"] = [shapiro_p(values[n]) for n in names]
    summary["iqm"] = [iqm(values[n]) for n in names]
    intervals = [iqm_ci(values[n], n_boot, seed) for n in names]
    summary["iqm_low"], summary["iqm_high"] = [lo for lo, _ in intervals], [hi for _, hi in intervals]
    if params:
        counts = [params.get(n) for n in names]
        summary["params"] = pd.array(counts, dtype="Int64") if all(c is not None for c in counts) else \
            [math.nan if c is None else float(c) for c in counts]
    summary.index.name = "candidate"
    return summary


def _detectable(confirm: dict[str, np.ndarray], best: str, others: list[str], alpha: float, paired: bool) -> float:
    """The median over candidates of the difference their test against the best detects with 80% power."""
    values = []
    for n in others:
        a, b = confirm[n], confirm[best]
        if min(len(a), len(b)) < 2:
            continue
        sd = float(np.std(a - b, ddof=1)) if paired else math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        values.append(detectable_difference(sd, min(len(a), len(b)), alpha, 0.8, paired))
    return float(np.median(values)) if values else math.nan


def _split_sentence(c: Comparison) -> str:
    if not c.n_confirm:
        return ("; chosen and estimated on the same seeds (fewer than 4 per candidate): the winner's score "
                "is optimistic")
    return (f"; best chosen on {c.n_select} seeds, tested and estimated on {c.n_confirm} others "
            f"(winner's unbiased estimate {fmt(c.estimate)})")


def _omnibus(groups: list[np.ndarray], paired: bool) -> dict[str, Any]:
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


def _winner(best: str, order: list[str], pairwise: list[Pairwise], params: dict[str, int] | None,
            alpha: float, margin: float | None) -> tuple[str, str]:
    """The best mean, or the smallest model among the candidates shown equivalent to it within the margin
    (the best included; ties on size go to the better selection mean)."""
    if not pairwise:
        return best, f"best mean ('{best}'); the only candidate"
    untested = [p.candidate for p in pairwise if math.isnan(p.p_holm)]
    if len(untested) == len(pairwise):
        return best, f"best mean ('{best}'); too few seeds to test the others ({NOT_ENOUGH})"
    skipped = f"; {len(untested)} untested candidate(s) with too few seeds left out" if untested else ""
    worse = sum(p.significantly_worse for p in pairwise)
    tested = f"{worse} of {len(pairwise) - len(untested)} others significantly worse (Holm, alpha={alpha})"
    if margin is None or not params:
        missing = "no equivalence margin" if margin is None else "no parameter counts"
        return best, f"best mean ('{best}'); {tested}; {missing}, so no smaller model may replace it{skipped}"
    close = [best] + [p.candidate for p in pairwise if p.equivalent]
    rank = {name: i for i, name in enumerate(order)}
    smallest = min(close, key=lambda n: (_size(params, n), rank[n]))
    if smallest == best:
        also = (f"it is also the smallest of the {len(close)} candidates shown within the margin {fmt(margin)}"
                if len(close) > 1 else f"no other candidate is shown within the margin {fmt(margin)} of it")
        return best, f"best mean ('{best}'); {tested}; {also} (equivalence: Holm, alpha={alpha}){skipped}"
    p = next(p for p in pairwise if p.candidate == smallest)
    return smallest, (f"smallest model ({int(params[smallest]):,} parameters) among {len(close)} candidates shown "
                      f"within the margin {fmt(margin)} of best '{best}' (equivalence p={fmt(p.p_equivalent_holm)}"
                      f" after Holm < {alpha}; difference {fmt(p.mean_difference)}); {tested}{skipped}")


def _size(params: dict[str, int], name: str) -> float:
    value = params.get(name)
    return math.inf if value is None or pd.isna(value) else float(value)


def _jsonable(value: Any) -> Any:
    """Plain Python types only, nan/inf as None, so json.dumps(..., allow_nan=False) works."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value if isinstance(value, str) else str(value)


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: Any, digits: int = 4) -> str:
    """A number for reading (Markdown and HTML alike): counts with thousands separators, `digits`
    decimals, values below 10^-(digits-1) with 3 significant digits, "—" for a missing one."""
    if value is None or value is pd.NA:
        return "—"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "—"
    return f"{v:.3g}" if v != 0 and abs(v) < 10 ** -(digits - 1) else f"{v:.{digits}f}"


# ----------------------------------------------------------------------------------------------------------
# a candidate against a deterministic baseline (a forecast's naive RMSE)


@dataclass
class BaselineTest:
    """Do a candidate's per-seed scores beat one fixed baseline score (e.g. the naive forecast's RMSE)?"""

    beats: bool
    test: str
    p_value: float  # one-sided, H1: the candidate's mean score is better than the baseline's
    mean: float
    baseline: float
    n: int
    alpha: float
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def beats_baseline(scores: Sequence[float], baseline: float, direction: str, alpha: float = 0.05,
                   candidate: str = "candidate", baseline_name: str = "the baseline",
                   metric: str = "score") -> BaselineTest:
    """One-sample, one-sided test of the seeds' scores against a deterministic baseline score: the
    one-sample t-test when Shapiro-Wilk does not reject normality of the scores, else the Wilcoxon
    signed-rank test of score - baseline. Fewer than 2 scores, or every score equal to the baseline, never
    beat it. Returns the decision and the sentence that applied it."""
    _check_direction(direction)
    values = np.asarray(scores, float).ravel()
    oriented, reference = _orient(values, direction), float(_orient(np.asarray([baseline], float), direction)[0])
    name, p = NOT_ENOUGH, math.nan
    if len(values) >= 2 and np.all(oriented == reference):
        name, p = IDENTICAL, 1.0
    elif len(values) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if _is_normal(oriented, alpha):
                name, p = "one-sample t-test", stats.ttest_1samp(oriented, reference, alternative="greater").pvalue
            else:
                name, p = "Wilcoxon signed-rank", stats.wilcoxon(oriented - reference, alternative="greater",
                                                                 zero_method="zsplit").pvalue
        p = 1.0 if math.isnan(float(p)) else float(p)
    beats = bool(not math.isnan(p) and p < alpha)
    mean = _mean(values)
    numbers = (f"{metric} mean {fmt(mean)} over {len(values)} seeds against {fmt(baseline)} "
               f"({name}, one-sided, p={fmt(p)} {'<' if beats else '>='} {alpha})")
    if name == "Wilcoxon signed-rank" and len(values) < 5:
        numbers += f"; the signed-rank test cannot reach p < 0.05 with {len(values)} seeds: more seeds (REPEATS)"
    verdict = "beats" if beats else "does not beat"
    return BaselineTest(beats, name, p, mean, float(baseline), len(values), alpha,
                        f"'{candidate}' {verdict} {baseline_name}: {numbers}")
