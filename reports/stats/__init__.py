"""Comparing candidates, every decision rule of the project with the sentence it applied. Spec:
/work/shared/spec/tuning.md, "Choosing the winner".

Every claim that promotes, selects or says "better" is about new data: a test of a mean on the matrix of
per-item test losses (seeds x items), with a standard error that counts the seeds and the test items
(`new_data`); two fixed models are compared over the items alone (`fixed_models`: McNemar, paired tests,
Diebold-Mariano for forecasts). Rank tests and effect sizes describe; they decide nothing.

Modules, by job: `new_data` (the loss difference and its standard error), `fixed_models`, `winner`
(choosing among candidates), `promotion` (challengers against an incumbent or a baseline), `significance`
(Holm, effect sizes, the omnibus test), `intervals` (IQM, bootstrap), `power` (detectable differences,
seeds needed), `scores` (direction, diverged seeds), `results` and `render` (the records, as JSON and
Markdown). Import from here: the split is an implementation detail.

Conventions: losses are lower-is-better (1 - accuracy per item, absolute error, squared error for RMSE);
scores are the metric, oriented "higher is better" for effect sizes; score differences are in the metric's
units, loss differences in the loss's.
"""
from reports.stats.fixed_models import FixedComparison, diebold_mariano, fixed_model_better
from reports.stats.intervals import bootstrap_ci, iqm, iqm_ci
from reports.stats.new_data import Items, LossDifference, loss_difference, variance_sources
from reports.stats.power import detectable_difference, detectable_from_se, seeds_for
from reports.stats.promotion import decide_promotion, significantly_better
from reports.stats.render import fmt
from reports.stats.results import Comparison, Decision, Pairwise, Promotion
from reports.stats.scores import fill_failed
from reports.stats.significance import (cliffs_delta, cohens_d, effect_size, holm, one_sided_test,
                                        probability_of_improvement, shapiro_p)
from reports.stats.winner import Resampling, compare

__all__ = ["Comparison", "Decision", "FixedComparison", "Items", "LossDifference", "Pairwise", "Promotion",
           "Resampling", "bootstrap_ci", "cliffs_delta", "cohens_d", "compare", "decide_promotion",
           "detectable_difference", "detectable_from_se", "diebold_mariano", "effect_size", "fill_failed",
           "fixed_model_better", "fmt", "holm", "iqm", "iqm_ci", "loss_difference", "one_sided_test",
           "probability_of_improvement", "seeds_for", "shapiro_p", "significantly_better", "variance_sources"]
