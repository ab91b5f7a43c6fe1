"""Choosing the winner among candidates (spec: /work/shared/spec/tuning.md, "Choosing the winner"):
the best chosen on some seeds and judged on others, one-sided tests against it under Holm, and the
smaller-model rule that needs an equivalence margin."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd

from reports.stats.intervals import iqm, iqm_ci
from reports.stats.new_data import Items, LossDifference, fill_failed_items, seeds_only
from reports.stats.power import detectable_from_se
from reports.stats.render import fmt
from reports.stats.results import Comparison, Pairwise
from reports.stats.scores import check_direction, mean, orient
from reports.stats.significance import (NOT_ENOUGH, cliffs_delta, effect_size, holm, omnibus_test,
                                        probability_of_improvement, shapiro_p)


@dataclass(frozen=True)
class Resampling:
    """Bootstrap settings for every interval of one comparison; n_boot=0 skips the intervals (simulations
    that need only the decisions)."""

    n_boot: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class _Seeds:
    """Each candidate's scores and item losses, and which seeds judge (the confirmation seeds): all of them
    when validation scores chose the best; else the second half, the first half having chosen."""

    values: dict[str, np.ndarray]
    select: dict[str, np.ndarray]  # what chose the best: validation scores, or the first half of the test scores
    confirm: slice  # the seeds (rows) that test and estimate
    on_validation: bool

    def confirmed(self, name: str) -> np.ndarray:
        return self.values[name][self.confirm]

    def counts(self) -> tuple[int, int]:
        """(seeds that chose, seeds that judged); judged 0 when the same test scores did both."""
        n = min(len(v) for v in self.values.values())
        if self.on_validation:
            return n, n
        held = self.confirm != slice(None)
        return (n // 2, n - n // 2) if held else (n, 0)


def compare(scores: dict[str, Sequence[float]], direction: str, params: dict[str, int] | None = None,
            alpha: float = 0.05, margin: float | None = None, items: Items | None = None,
            selection: dict[str, Sequence[float]] | None = None,
            resampling: Resampling = Resampling()) -> Comparison:
    """Choose a winner among candidates; every claim is about new data.

    1. Selection without the winner's curse: the best is the best mean of the `selection` scores (each
       seed's validation score); without them, of the first half of each candidate's test seeds, and the
       other half judges (with at least 4 seeds). Either way the best is fixed before the data that judge it.
    2. One-sided tests of means of each other candidate against that best, Holm-corrected, on the matrix
       of per-item test losses (`items`: seeds x items, a standard error that counts the seeds and the test
       items; reports.stats.new_data). Without items, each seed's score stands for one item and the claim
       counts the seeds only, which the rule says.
    3. The smaller-model rule needs an equivalence `margin` (metric units; `items.loss_margin` in loss
       units): a smaller model replaces the best only when shown to be worse by less than the margin (the
       lower half of TOST on the mean item loss, Holm-corrected). Without a margin or parameter counts the
       best wins.
    """
    check_direction(direction)
    names, seeds = _split_seeds(scores, selection)
    items = fill_failed_items_of(items) if items is not None else seeds_only(seeds.values, direction, margin)
    order = _rank(names, seeds.select, direction)
    best = order[0]
    summary = _summary(seeds.values, order, params, resampling.n_boot, resampling.seed)
    summary["estimate"] = [mean(seeds.confirmed(n)) for n in order]
    oriented = {n: orient(seeds.confirmed(n), direction) for n in names}
    omnibus = omnibus_test([oriented[n] for n in names], _paired(seeds.values)) if len(names) >= 3 else None
    pairwise = _pairwise(seeds, oriented, order, items, alpha, margin)
    winner, rule = _winner(best, order, pairwise, params, alpha, margin)
    n_select, n_confirm = seeds.counts()
    detectable = float(np.median([p.detectable for p in pairwise])) if pairwise else math.nan
    comparison = Comparison(direction, alpha, _paired(seeds.values), summary, omnibus, best, pairwise, winner, rule,
                            margin, n_select, n_confirm, mean(seeds.confirmed(winner)), detectable,
                            {n: [float(x) for x in v] for n, v in seeds.values.items()}, seeds.on_validation)
    comparison.rule = rule + _split_sentence(comparison)
    return comparison


def fill_failed_items_of(items: Items) -> Items:
    return replace(items, losses=fill_failed_items(items.losses))


def _paired(values: dict[str, np.ndarray]) -> bool:
    return len({len(v) for v in values.values()}) == 1


def _split_seeds(scores: dict[str, Sequence[float]],
                 selection: dict[str, Sequence[float]] | None) -> tuple[list[str], _Seeds]:
    """The candidates' names and scores; what chooses the best (validation scores, or the first half of
    the test seeds when every candidate has at least 4) and which seeds judge."""
    if not scores:
        raise ValueError("no candidates to compare")
    names = [str(n) for n in scores]
    values = {str(n): np.asarray(v, float).ravel() for n, v in scores.items()}
    if selection is not None:
        chosen = {str(n): np.asarray(selection[n], float).ravel() for n in scores}
        return names, _Seeds(values, chosen, slice(None), True)
    if min(len(v) for v in values.values()) >= 4:
        return names, _Seeds(values, {n: v[:len(v) // 2] for n, v in values.items()},
                             slice(min(len(v) for v in values.values()) // 2, None), False)
    return names, _Seeds(values, values, slice(None), False)


def _rank(names: list[str], select: dict[str, np.ndarray], direction: str) -> list[str]:
    """Candidates by their mean on the selection scores, best first (no scores: last)."""
    means = {n: mean(orient(select[n], direction)) for n in names}  # oriented: higher is better
    return sorted(names, key=lambda n: (math.isnan(means[n]), -means[n] if not math.isnan(means[n]) else 0.0))


def _pairwise(seeds: _Seeds, oriented: dict[str, np.ndarray], order: list[str], items: Items, alpha: float,
              margin: float | None) -> list[Pairwise]:
    """Every other candidate against the best (order[0]) on the confirmation seeds: a one-sided test of
    "worse" (its mean item loss higher) and, with a margin, of "worse by less than the margin", each
    Holm-adjusted over the others. Cliff's delta, d and P(improvement) describe the seed scores."""
    best = order[0]
    others = [n for n in order if n != best]
    differences = [items.difference(n, best, seeds.confirm) for n in others]
    raw = [d.p_above(0.0) for d in differences]
    equivalence = ([d.p_below(items.loss_margin) for d in differences] if margin is not None
                   else [math.nan] * len(others))
    pairwise = []
    for n, d, p, p_adj, p_eq, p_eq_adj in zip(others, differences, raw, holm(raw), equivalence, holm(equivalence)):
        low, high = d.interval()
        pairwise.append(Pairwise(
            candidate=n, test=_test_name(d), p_value=p, p_holm=p_adj,
            mean_difference=mean(seeds.confirmed(n)) - mean(seeds.confirmed(best)), ci_low=low, ci_high=high,
            cliffs_delta=cliffs_delta(oriented[n], oriented[best]),
            cohens_d=effect_size(oriented[n], oriented[best], _paired(seeds.values)),
            significantly_worse=bool(not math.isnan(p_adj) and p_adj < alpha),
            probability_of_improvement=probability_of_improvement(oriented[n], oriented[best]),
            p_equivalent=p_eq, p_equivalent_holm=p_eq_adj,
            equivalent=bool(not math.isnan(p_eq_adj) and p_eq_adj < alpha),
            note="" if d.se > 0 or math.isnan(d.mean) else "no variability: the difference is exact",
            loss_difference=d.mean, sources=d.sources, detectable=detectable_from_se(d.se, d.df, alpha)))
    return pairwise


def _test_name(d: LossDifference) -> str:
    return "t-test of the mean item loss" if d.items > 1 else "paired t-test over seeds"


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
    tested = (f"{worse} of {len(pairwise) - len(untested)} others significantly worse (t-tests of means {pairwise[0].sources}, "
              f"Holm, alpha={alpha})")
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
    """What chose and what judged: chosen and judged on the same test scores, the winner's is optimistic."""
    if c.on_validation:
        return (f"; best chosen on its validation scores, tested and estimated on the test set "
                f"(winner's estimate {fmt(c.estimate)}, unbiased by the choice)")
    if not c.n_confirm:
        return ("; chosen and estimated on the same test seeds (no validation scores, fewer than 4 seeds per "
                "candidate): the winner's score is optimistic")
    return (f"; best chosen on {c.n_select} seeds, tested and estimated on {c.n_confirm} others "
            f"(winner's unbiased estimate {fmt(c.estimate)})")
