"""Rules that keep or replace something fixed: a challenger against the incumbent, challengers against
a baseline (Holm over every challenger tried), a candidate against one deterministic baseline score."""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from scipy import stats

from reports.stats.intervals import bootstrap_ci
from reports.stats.render import fmt
from reports.stats.results import BaselineTest, Decision, Promotion
from reports.stats.scores import check_direction, mean, orient
from reports.stats.significance import (IDENTICAL, NOT_ENOUGH, cliffs_delta, effect_size, holm, is_normal,
                                        one_sided_test, probability_of_improvement)


def significantly_better(challenger: Sequence[float], incumbent: Sequence[float], direction: str,
                         alpha: float = 0.05, paired: bool = False, n_boot: int = 2000, seed: int = 0) -> Decision:
    """One-sided test that the challenger's scores beat the incumbent's (the test selection rule of
    `one_sided_test`), with effect sizes and a bootstrap-t interval of challenger - incumbent."""
    check_direction(direction)
    ch, inc = np.asarray(challenger, float).ravel(), np.asarray(incumbent, float).ravel()
    c, i = orient(ch, direction), orient(inc, direction)
    test, p = one_sided_test(i, c, alpha, paired)  # H1: incumbent lower (worse) than challenger
    notes = []
    if test == NOT_ENOUGH:
        notes.append(f"not enough seeds to test (challenger {len(ch)}, incumbent {len(inc)})")
    elif test == IDENTICAL:
        notes.append("all scores identical: p set to 1")
    low, high = bootstrap_ci(ch, inc, paired, n_boot, seed)
    return Decision(better=bool(not math.isnan(p) and p < alpha), test=test, p_value=p,
                    mean_difference=mean(ch) - mean(inc), ci_low=low, ci_high=high,
                    cliffs_delta=cliffs_delta(c, i), cohens_d=effect_size(c, i, paired), alpha=alpha, notes=notes,
                    probability_of_improvement=probability_of_improvement(c, i))


def decide_promotion(challengers: dict[str, Sequence[float]], baseline: Sequence[float], direction: str,
                     alpha: float = 0.05, paired: bool = False, baseline_name: str = "baseline",
                     n_boot: int = 2000, seed: int = 0) -> Promotion:
    """Promote a challenger only when it is significantly better than the baseline with the family-wise
    error held at alpha over every challenger tried: one-sided tests against the (fixed, not chosen)
    baseline, Holm-adjusted; among the challengers that pass, the best mean is promoted."""
    check_direction(direction)
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


def beats_baseline(scores: Sequence[float], baseline: float, direction: str, alpha: float = 0.05,
                   candidate: str = "candidate", baseline_name: str = "the baseline",
                   metric: str = "score") -> BaselineTest:
    """One-sample, one-sided test of the seeds' scores against a deterministic baseline score (e.g. the
    naive forecast's RMSE): the one-sample t-test when Shapiro-Wilk does not reject normality of the
    scores, else the Wilcoxon signed-rank test of score - baseline. Fewer than 2 scores, or every score
    equal to the baseline, never beat it. Returns the decision and the sentence that applied it."""
    check_direction(direction)
    values = np.asarray(scores, float).ravel()
    oriented, reference = orient(values, direction), float(orient(np.asarray([baseline], float), direction)[0])
    name, p = NOT_ENOUGH, math.nan
    if len(values) >= 2 and np.all(oriented == reference):
        name, p = IDENTICAL, 1.0
    elif len(values) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if is_normal(oriented, alpha):
                name, p = "one-sample t-test", stats.ttest_1samp(oriented, reference, alternative="greater").pvalue
            else:
                name, p = "Wilcoxon signed-rank", stats.wilcoxon(oriented - reference, alternative="greater",
                                                                 zero_method="zsplit").pvalue
        p = 1.0 if math.isnan(float(p)) else float(p)
    beats = bool(not math.isnan(p) and p < alpha)
    average = mean(values)
    numbers = (f"{metric} mean {fmt(average)} over {len(values)} seeds against {fmt(baseline)} "
               f"({name}, one-sided, p={fmt(p)} {'<' if beats else '>='} {alpha})")
    if name == "Wilcoxon signed-rank" and len(values) < 5:
        numbers += f"; the signed-rank test cannot reach p < 0.05 with {len(values)} seeds: more seeds (REPEATS)"
    verdict = "beats" if beats else "does not beat"
    return BaselineTest(beats, name, p, average, float(baseline), len(values), alpha,
                        f"'{candidate}' {verdict} {baseline_name}: {numbers}")
