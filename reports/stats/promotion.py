"""Rules that keep or replace something fixed: a challenger against the incumbent, challengers against a
baseline (Holm over every challenger tried). Each is a one-sided test of the mean item loss on new data
(reports.stats.new_data: seeds and test items counted), and an improvement must also reach a stated
minimum effect to count."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from reports.stats.new_data import Items, fill_failed_items, seeds_only
from reports.stats.render import fmt
from reports.stats.results import Decision, Promotion
from reports.stats.scores import check_direction, mean, orient
from reports.stats.significance import cliffs_delta, effect_size, holm, probability_of_improvement

CHALLENGER, INCUMBENT = "challenger", "incumbent"


def significantly_better(challenger: Sequence[float], incumbent: Sequence[float], direction: str,
                         alpha: float = 0.05, items: Items | None = None, names: tuple[str, str] = (CHALLENGER, INCUMBENT),
                         min_effect: float = 0.0) -> Decision:
    """Is the challenger better than the incumbent on new data? A one-sided t-test that its mean item loss
    is lower (`items`, keyed by `names`: seeds x items each; without items, each seed's score stands for
    one item and only the seeds count), and an improvement of at least `min_effect` (loss units).
    Effect sizes and P(improvement) describe the seed scores; they decide nothing."""
    check_direction(direction)
    ch, inc = np.asarray(challenger, float).ravel(), np.asarray(incumbent, float).ravel()
    items = items or seeds_only(dict(zip(names, (ch, inc))), direction, None)
    items = Items(fill_failed_items({n: items.losses[n] for n in names}), None, items.time_steps, items.horizon)
    d = items.difference(*names)
    p = d.p_below(0.0)
    low, high = d.interval()
    c, i = orient(ch, direction), orient(inc, direction)
    decision = Decision(better=False, test=_test_name(d), p_value=p, mean_difference=mean(ch) - mean(inc),
                        ci_low=low, ci_high=high, cliffs_delta=cliffs_delta(c, i),
                        cohens_d=effect_size(c, i, len(ch) == len(inc)), alpha=alpha, name=names[0],
                        probability_of_improvement=probability_of_improvement(c, i), loss_difference=d.mean,
                        sources=d.sources, min_effect=min_effect)
    if math.isnan(p):
        decision.notes.append(f"cannot be tested {d.sources}: no variability to estimate")
    return _settle(decision, p)


def _settle(decision: Decision, p: float) -> Decision:
    """better: p below alpha and the improvement at least the minimum effect (say so when only the first)."""
    significant = not math.isnan(p) and p < decision.alpha
    big_enough = -decision.loss_difference >= decision.min_effect
    decision.better = bool(significant and big_enough)
    if significant and not big_enough:
        decision.notes.append(f"significant, but the improvement {fmt(-decision.loss_difference)} is below the "
                              f"minimum effect {fmt(decision.min_effect)}")
    return decision


def _test_name(d) -> str:
    return "t-test of the mean item loss" if d.items > 1 else "paired t-test over seeds"


def decide_promotion(challengers: dict[str, Sequence[float]], baseline: Sequence[float], direction: str,
                     alpha: float = 0.05, baseline_name: str = "baseline", items: Items | None = None,
                     min_effect: float = 0.0) -> Promotion:
    """Promote a challenger only when it is better than the baseline on new data, with the family-wise error
    held at alpha over every challenger tried: one-sided tests of the mean item loss against the (fixed, not
    chosen) baseline, Holm-adjusted, and an improvement of at least `min_effect`; among those that pass,
    the best mean is promoted. `items` holds every challenger's and the baseline's losses by name."""
    check_direction(direction)
    if not challengers:
        raise ValueError("no challengers to decide on")
    decisions = [significantly_better(v, baseline, direction, alpha, items, (str(name), baseline_name), min_effect)
                 for name, v in challengers.items()]
    for d, p_adj in zip(decisions, holm([d.p_value for d in decisions])):
        d.p_holm, d.notes = p_adj, []
        _settle(d, p_adj)
    best = min(decisions, key=lambda d: d.loss_difference if not math.isnan(d.loss_difference) else math.inf)
    passed = [d for d in decisions if d.better]
    m, sources = len(decisions), decisions[0].sources
    minimum = f", and by at least {fmt(min_effect)}" if min_effect else ""
    if not passed:
        return Promotion(None, best.name, decisions, alpha,
                         f"'{baseline_name}' kept: no challenger of {m} is better on new data{minimum} (best "
                         f"'{best.name}': mean loss difference {fmt(best.loss_difference)} {sources}, {best.test}, "
                         f"p={fmt(best.p_value)}, Holm over {m}: {fmt(best.p_holm)}; alpha {alpha})")
    winner = min(passed, key=lambda d: d.loss_difference)
    return Promotion(winner.name, best.name, decisions, alpha,
                     f"'{winner.name}' promoted: better than '{baseline_name}' on new data{minimum} ({winner.test} "
                     f"{sources}, p={fmt(winner.p_value)}, Holm over {m} challenger(s): {fmt(winner.p_holm)} < "
                     f"{alpha}; mean loss difference {fmt(winner.loss_difference)}, 95% CI [{fmt(winner.ci_low)}, "
                     f"{fmt(winner.ci_high)}]; score difference {fmt(winner.mean_difference)})")
