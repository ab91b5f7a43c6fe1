"""Comparing candidates from their per-seed scores, with scipy.stats: every decision rule of the project,
with the sentence it applied. Spec: /work/shared/spec/tuning.md, "Choosing the winner".

Modules, by job: `significance` (tests, effect sizes, Holm, omnibus), `intervals` (IQM, bootstrap),
`power` (detectable differences, seeds needed), `scores` (direction, diverged seeds), `winner` (choosing
among candidates), `promotion` (challenger against incumbent or baseline), `results` and `render` (the
records, as JSON and Markdown). Import from here: the split is an implementation detail.

Conventions
- Tests and effect sizes work in "higher is better" orientation (scores negated when minimising), so a
  negative Cliff's delta / Cohen's d always means "the candidate is worse than the reference".
- Differences of means and their bootstrap intervals are in the metric's own units (candidate - best,
  challenger - incumbent), not oriented.
"""
from reports.stats.intervals import bootstrap_ci, iqm, iqm_ci
from reports.stats.power import detectable_difference, seeds_for
from reports.stats.promotion import beats_baseline, decide_promotion, significantly_better
from reports.stats.render import fmt
from reports.stats.results import BaselineTest, Comparison, Decision, Pairwise, Promotion
from reports.stats.scores import DIRECTIONS, fill_failed
from reports.stats.significance import (IDENTICAL, NOT_ENOUGH, cliffs_delta, cohens_d, effect_size, holm,
                                        one_sided_test, probability_of_improvement, shapiro_p)
from reports.stats.winner import Resampling, compare

__all__ = ["BaselineTest", "Comparison", "Decision", "Pairwise", "Promotion", "Resampling", "beats_baseline",
           "bootstrap_ci", "cliffs_delta", "cohens_d", "compare",
           "decide_promotion", "detectable_difference", "effect_size", "fill_failed", "fmt", "holm", "iqm", "iqm_ci",
           "one_sided_test", "probability_of_improvement", "seeds_for", "shapiro_p", "significantly_better"]
