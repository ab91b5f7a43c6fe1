"""Choosing the winner among candidates (spec: /work/shared/spec/tuning.md, "Choosing the winner"):
the best chosen on some seeds and judged on others, one-sided tests against it under Holm, and the
smaller-model rule that needs an equivalence margin."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from reports.stats.intervals import bootstrap_ci, iqm, iqm_ci
from reports.stats.power import median_detectable
from reports.stats.render import fmt
from reports.stats.results import Comparison, Pairwise
from reports.stats.scores import check_direction, mean, orient
from reports.stats.significance import (IDENTICAL, NOT_ENOUGH, cliffs_delta, effect_size, holm, omnibus_test,
                                        one_sided_test, probability_of_improvement, shapiro_p)


@dataclass(frozen=True)
class Resampling:
    """Bootstrap settings for every interval of one comparison; n_boot=0 skips the intervals (simulations
    that need only the decisions)."""

    n_boot: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class _Seeds:
    """Each candidate's scores, and the part that chooses the best and the part that judges it (with no
    holdout, all of them both times)."""

    values: dict[str, np.ndarray]
    select: dict[str, np.ndarray]
    confirm: dict[str, np.ndarray]
    held_out: bool

    def counts(self) -> tuple[int, int]:
        """(n_select, n_confirm); n_confirm 0 when the same seeds chose and judged."""
        if not self.held_out:
            return min(len(v) for v in self.values.values()), 0
        return min(len(v) for v in self.select.values()), min(len(v) for v in self.confirm.values())


def compare(scores: dict[str, Sequence[float]], direction: str, params: dict[str, int] | None = None,
            alpha: float = 0.05, paired: bool = False, margin: float | None = None, holdout: bool = True,
            resampling: Resampling = Resampling()) -> Comparison:
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
    check_direction(direction)
    names, seeds = _split_seeds(scores, paired, holdout)
    oriented = {n: orient(seeds.confirm[n], direction) for n in names}
    order = _rank(names, seeds.select, direction)
    best = order[0]
    summary = _summary(seeds.values, order, params, resampling.n_boot, resampling.seed)
    summary["estimate"] = [mean(seeds.confirm[n]) for n in order]
    omnibus = omnibus_test([oriented[n] for n in names], paired) if len(names) >= 3 else None
    gate = omnibus is None or (not math.isnan(omnibus["p_value"]) and omnibus["p_value"] < alpha)
    others = [n for n in order if n != best]
    pairwise = _pairwise(seeds.confirm, oriented, order, gate, alpha, paired, margin, resampling)
    winner, rule = _winner(best, order, pairwise, params, alpha, margin)
    n_select, n_confirm = seeds.counts()
    detectable = median_detectable(seeds.confirm, best, others, alpha, paired)
    comparison = Comparison(direction, alpha, paired, summary, omnibus, best, pairwise, winner, rule, margin,
                            n_select, n_confirm, mean(seeds.confirm[winner]), detectable,
                            {n: [float(x) for x in v] for n, v in seeds.values.items()})
    comparison.rule = rule + _split_sentence(comparison)
    return comparison


def _split_seeds(scores: dict[str, Sequence[float]], paired: bool, holdout: bool) -> tuple[list[str], _Seeds]:
    """The candidates' names and scores, halved (first half selects, second half judges) when `holdout`
    and every candidate has at least 4 scores."""
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
    return names, _Seeds(values, select, confirm, split)


def _rank(names: list[str], select: dict[str, np.ndarray], direction: str) -> list[str]:
    """Candidates by their mean on the selection seeds, best first (no scores: last)."""
    means = {n: mean(orient(select[n], direction)) for n in names}  # oriented: higher is better
    return sorted(names, key=lambda n: (math.isnan(means[n]), -means[n] if not math.isnan(means[n]) else 0.0))


def _pairwise(confirm: dict[str, np.ndarray], oriented: dict[str, np.ndarray], order: list[str], gate: bool,
              alpha: float, paired: bool, margin: float | None, resampling: Resampling) -> list[Pairwise]:
    """Every other candidate against the best (order[0]) on the confirmation seeds: a one-sided test of
    "worse" and, with a margin, of "worse by less than the margin", each Holm-adjusted over the others;
    "significantly worse" also needs the omnibus `gate`."""
    best = order[0]
    others = [n for n in order if n != best]
    raw = [one_sided_test(oriented[n], oriented[best], alpha, paired) for n in others]
    adjusted = holm([p for _, p in raw])
    equivalence = ([one_sided_test(oriented[best], oriented[n] + margin, alpha, paired)[1] for n in others]
                   if margin is not None else [math.nan] * len(others))
    equivalence_adjusted = holm(equivalence)
    pairwise = []
    for n, (test, p), p_adj, p_eq, p_eq_adj in zip(others, raw, adjusted, equivalence, equivalence_adjusted):
        low, high = bootstrap_ci(confirm[n], confirm[best], paired, resampling.n_boot, resampling.seed)
        note = {NOT_ENOUGH: "tests not applicable", IDENTICAL: "p set to 1"}.get(test, "")
        pairwise.append(Pairwise(
            candidate=n, test=test, p_value=p, p_holm=p_adj,
            mean_difference=mean(confirm[n]) - mean(confirm[best]), ci_low=low, ci_high=high,
            cliffs_delta=cliffs_delta(oriented[n], oriented[best]),
            cohens_d=effect_size(oriented[n], oriented[best], paired),
            significantly_worse=bool(gate and not math.isnan(p_adj) and p_adj < alpha),
            probability_of_improvement=probability_of_improvement(oriented[n], oriented[best]),
            p_equivalent=p_eq, p_equivalent_holm=p_eq_adj,
            equivalent=bool(not math.isnan(p_eq_adj) and p_eq_adj < alpha), note=note))
    return pairwise


def _summary(values: dict[str, np.ndarray], names: list[str], params: dict[str, int] | None,
             n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """describe() of every candidate's scores, best first, with SEM, Shapiro-Wilk p, IQM and its interval
    and, when known, the parameter count."""
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


def _split_sentence(c: Comparison) -> str:
    """Which seeds chose and which judged: without a holdout the winner's score is optimistic, say so."""
    if not c.n_confirm:
        return ("; chosen and estimated on the same seeds (fewer than 4 per candidate): the winner's score "
                "is optimistic")
    return (f"; best chosen on {c.n_select} seeds, tested and estimated on {c.n_confirm} others "
            f"(winner's unbiased estimate {fmt(c.estimate)})")
