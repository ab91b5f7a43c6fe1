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
from scipy import stats

__all__ = ["Comparison", "Decision", "Pairwise", "bootstrap_ci", "cliffs_delta", "cohens_d", "compare", "holm",
           "one_sided_test", "shapiro_p", "significantly_better"]

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

    Welch's t (paired: paired t) when Shapiro-Wilk does not reject normality for both groups, else
    Mann-Whitney U (paired: Wilcoxon signed-rank). Fewer than 2 scores -> ("not enough seeds", nan);
    all scores identical (paired: every difference 0) -> ("identical scores", 1.0).
    """
    a, b = np.asarray(worse, float), np.asarray(better, float)
    if min(len(a), len(b)) < 2:
        return NOT_ENOUGH, math.nan
    if paired and len(a) != len(b):
        raise ValueError(f"paired test needs equal lengths, got {len(a)} and {len(b)}")
    if (paired and np.all(a == b)) or (not paired and np.ptp(np.concatenate([a, b])) == 0):
        return IDENTICAL, 1.0
    normal = _is_normal(a, alpha) and _is_normal(b, alpha)
    if paired and np.ptp(a - b) == 0:
        normal = False  # constant non-zero differences: the paired t has zero variance, use ranks
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


def bootstrap_ci(a: Sequence[float], b: Sequence[float], paired: bool = False, n_boot: int = 2000,
                 seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Seeded percentile-bootstrap interval of mean(a) - mean(b) (paired: of the mean of a - b).

    (d, d) for constant data or fewer than 2 scores in a group; (nan, nan) for an empty group.
    """
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) == 0 or len(y) == 0:
        return (math.nan, math.nan)
    point = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return (point, point)
    if paired and len(x) != len(y):
        raise ValueError(f"paired interval needs equal lengths, got {len(x)} and {len(y)}")
    if (paired and np.ptp(x - y) == 0) or (not paired and np.ptp(x) == 0 and np.ptp(y) == 0):
        return (point, point)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if paired:
            res = stats.bootstrap((x - y,), np.mean, n_resamples=n_boot, confidence_level=confidence,
                                  method="percentile", rng=rng)
        else:
            res = stats.bootstrap((x, y), _mean_difference, n_resamples=n_boot, confidence_level=confidence,
                                  method="percentile", rng=rng)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (point, point) if math.isnan(low) or math.isnan(high) else (low, high)


def _mean_difference(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
    return u.mean(axis=axis) - v.mean(axis=axis)


# ----------------------------------------------------------------------------------------------------------
# results


@dataclass
class Pairwise:
    """One candidate against the best: is it significantly worse?"""

    candidate: str
    test: str
    p_value: float  # one-sided, H1: the candidate is worse than the best
    p_holm: float  # Holm-adjusted across all candidates
    mean_difference: float  # candidate - best, in the metric's units
    ci_low: float  # bootstrap interval of mean_difference
    ci_high: float
    cliffs_delta: float  # oriented: negative = candidate worse
    cohens_d: float  # oriented: negative = candidate worse
    significantly_worse: bool
    note: str = ""


@dataclass
class Comparison:
    direction: str
    alpha: float
    paired: bool
    summary: pd.DataFrame  # index: candidate, best first
    omnibus: dict[str, Any] | None  # {"test", "statistic", "p_value", "note"}; None with fewer than 3 candidates
    best: str  # best mean in the direction
    pairwise: list[Pairwise]  # every other candidate against the best, in summary order
    winner: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (strict JSON: nan becomes None); the summary as a list of records."""
        summary = self.summary.rename_axis("candidate").reset_index().to_dict(orient="records")
        return _jsonable({"direction": self.direction, "alpha": self.alpha, "paired": self.paired,
                          "summary": summary, "omnibus": self.omnibus, "best": self.best,
                          "pairwise": [asdict(p) for p in self.pairwise], "winner": self.winner, "rule": self.rule})

    def to_markdown(self) -> str:
        """A compact Markdown section: summary table, omnibus line, pairwise table, winner and rule."""
        cols = ["mean", "std", "sem", "min", "25%", "50%", "75%", "max", "shapiro_p"]
        if "params" in self.summary:
            cols.append("params")
        rows = []
        for name, r in self.summary.iterrows():
            cells = [name, int(r["count"])]
            for c in cols:
                v = r[c]
                cells.append(_fmt(int(v)) if c == "params" and not pd.isna(v) else _fmt(v))
            rows.append(cells)
        headers = ["candidate", "n"] + [("Shapiro-Wilk p" if c == "shapiro_p" else c) for c in cols]
        out = [f"Direction: {self.direction}; {'paired' if self.paired else 'unpaired'} seeds; alpha={self.alpha}",
               "", _md_table(headers, rows), ""]
        if self.omnibus:
            note = f" ({self.omnibus['note']})" if self.omnibus.get("note") else ""
            out.append(f"Omnibus: {self.omnibus['test']} statistic={_fmt(self.omnibus['statistic'])}, "
                       f"p={_fmt(self.omnibus['p_value'])}{note}")
        else:
            out.append("Omnibus: not applicable (fewer than three candidates: the pairwise test decides)")
        out.append("")
        if self.pairwise:
            out.append(f"Pairwise against the best ('{self.best}'), one-sided (candidate worse), "
                       f"Holm-corrected, alpha={self.alpha}:")
            out.append("")
            rows = [[p.candidate, p.test + (f" ({p.note})" if p.note else ""), _fmt(p.p_value), _fmt(p.p_holm),
                     _fmt(p.mean_difference), f"[{_fmt(p.ci_low)}, {_fmt(p.ci_high)}]", _fmt(p.cliffs_delta),
                     _fmt(p.cohens_d), "yes" if p.significantly_worse else "no"] for p in self.pairwise]
            out.append(_md_table(["candidate", "test", "p", "p (Holm)", "difference", "95% bootstrap CI",
                                  "Cliff's delta", "Cohen's d", "significantly worse"], rows))
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
    cohens_d: float  # oriented: positive = challenger better
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (strict JSON: nan becomes None)."""
        return _jsonable(asdict(self))


# ----------------------------------------------------------------------------------------------------------
# public functions


def compare(scores: dict[str, Sequence[float]], direction: str, params: dict[str, int] | None = None,
            alpha: float = 0.05, paired: bool = False, n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Summaries, omnibus and one-sided pairwise tests against the best mean (Holm-corrected), effect sizes
    and bootstrap intervals; the winner is the best mean or, when parameter counts are given, the smallest
    model among the candidates not significantly worse than the best (ties on size: better mean)."""
    _check_direction(direction)
    if not scores:
        raise ValueError("no candidates to compare")
    names = [str(n) for n in scores]
    values = {str(n): np.asarray(v, float).ravel() for n, v in scores.items()}
    if paired and len({len(v) for v in values.values()}) != 1:
        raise ValueError("paired comparison needs the same number of scores for every candidate, got "
                         + ", ".join(f"{n}={len(v)}" for n, v in values.items()))
    oriented = {n: _orient(values[n], direction) for n in names}

    summary = _summary(values, names, params)
    summary = summary.sort_values("mean", ascending=direction == "minimize", kind="stable", na_position="last")
    best = str(summary.index[0])
    order = [str(n) for n in summary.index]

    omnibus = _omnibus([oriented[n] for n in names], paired) if len(names) >= 3 else None
    others = [n for n in order if n != best]
    raw = [one_sided_test(oriented[n], oriented[best], alpha, paired) for n in others]
    adjusted = holm([p for _, p in raw])
    pairwise = []
    for n, (test, p), p_adj in zip(others, raw, adjusted):
        low, high = bootstrap_ci(values[n], values[best], paired, n_boot, seed)
        note = {NOT_ENOUGH: "tests not applicable", IDENTICAL: "p set to 1"}.get(test, "")
        pairwise.append(Pairwise(
            candidate=n, test=test, p_value=p, p_holm=p_adj, mean_difference=_mean(values[n]) - _mean(values[best]),
            ci_low=low, ci_high=high, cliffs_delta=cliffs_delta(oriented[n], oriented[best]),
            cohens_d=cohens_d(oriented[n], oriented[best]),
            significantly_worse=bool(not math.isnan(p_adj) and p_adj < alpha), note=note))
    winner, rule = _winner(best, order, pairwise, params, alpha)
    return Comparison(direction, alpha, paired, summary, omnibus, best, pairwise, winner, rule)


def significantly_better(challenger: Sequence[float], incumbent: Sequence[float], direction: str,
                         alpha: float = 0.05, paired: bool = False, n_boot: int = 2000, seed: int = 0) -> Decision:
    """One-sided test that the challenger's scores beat the incumbent's (same test selection rule as
    `compare`), with effect sizes and a bootstrap interval of challenger - incumbent."""
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
                    cliffs_delta=cliffs_delta(c, i), cohens_d=cohens_d(c, i), alpha=alpha, notes=notes)


# ----------------------------------------------------------------------------------------------------------
# helpers


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def _orient(values: np.ndarray, direction: str) -> np.ndarray:
    return values if direction == "maximize" else -values


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def _summary(values: dict[str, np.ndarray], names: list[str], params: dict[str, int] | None) -> pd.DataFrame:
    summary = pd.DataFrame({n: pd.Series(values[n], dtype=float).describe() for n in names}).T
    summary["sem"] = [float(values[n].std(ddof=1) / math.sqrt(len(values[n]))) if len(values[n]) > 1 else math.nan
                      for n in names]
    summary["shapiro_p"] = [shapiro_p(values[n]) for n in names]
    if params:
        counts = [params.get(n) for n in names]
        summary["params"] = pd.array(counts, dtype="Int64") if all(c is not None for c in counts) else \
            [math.nan if c is None else float(c) for c in counts]
    summary.index.name = "candidate"
    return summary


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
            alpha: float) -> tuple[str, str]:
    """Best mean, or the smallest model among the candidates not significantly worse than it (which
    includes the best itself); candidates that could not be tested are never preferred over the best."""
    if not pairwise:
        return best, f"best mean ('{best}'); the only candidate"
    untested = [p.candidate for p in pairwise if math.isnan(p.p_holm)]
    if len(untested) == len(pairwise):
        return best, f"best mean ('{best}'); too few seeds to test the others ({NOT_ENOUGH})"
    close = [best] + [p.candidate for p in pairwise if not math.isnan(p.p_holm) and not p.significantly_worse]
    skipped = f"; {len(untested)} untested candidate(s) with too few seeds left out" if untested else ""
    if len(close) == 1:
        return best, (f"best mean ('{best}'); every other tested candidate is significantly worse "
                      f"(Holm-adjusted p < {alpha}){skipped}")
    if not params:
        return best, (f"best mean ('{best}'); {len(close)} candidates are not significantly worse "
                      f"(Holm-adjusted p >= {alpha}) but no parameter counts were given{skipped}")
    rank = {name: i for i, name in enumerate(order)}
    smallest = min(close, key=lambda n: (_size(params, n), rank[n]))
    if smallest == best:
        return best, (f"best mean ('{best}'); no candidate within noise is smaller (it is the smallest of the "
                      f"{len(close)} candidates not significantly worse than it, Holm-adjusted p >= {alpha})"
                      f"{skipped}")
    return smallest, (f"smallest model ({int(params[smallest]):,} parameters) among {len(close)} candidates not "
                      f"significantly worse than best '{best}' (Holm-adjusted p >= {alpha}){skipped}")


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


def _fmt(value: Any) -> str:
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
    return f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}"
