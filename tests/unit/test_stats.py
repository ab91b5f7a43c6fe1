"""reports.stats on constructed score sets with known answers (seeded, fast)."""
import json
import math

import numpy as np
import pytest

from reports.stats import (
    Items,
    Resampling,
    bootstrap_ci,
    cliffs_delta,
    cohens_d,
    compare,
    decide_promotion,
    detectable_difference,
    effect_size,
    fill_failed,
    holm,
    iqm,
    iqm_ci,
    loss_difference,
    one_sided_test,
    probability_of_improvement,
    seeds_for,
    shapiro_p,
    significantly_better,
)

rng = np.random.default_rng(0)
HIGH = rng.normal(0.9, 0.01, 30)
LOW = rng.normal(0.5, 0.01, 30)
SAME = rng.normal(0.7, 0.02, 30)
MID = rng.normal(0.7, 0.01, 30)
SKEWED = rng.exponential(1.0, 30)
BIMODAL = np.concatenate([rng.normal(0.0, 0.01, 15), rng.normal(1.0, 0.01, 15)])


def jitter(values, sd=0.0002):
    """Scores shifted by a constant plus a little noise of their own: a constant difference tests nothing."""
    return np.asarray(values) + rng.normal(0, sd, len(values))


# --- clearly different groups ---------------------------------------------------------------------------------


def test_clearly_different_groups_give_tiny_p_and_the_better_wins():
    result = compare({"bad": LOW, "good": HIGH}, "maximize")
    assert result.best == "good" and result.winner == "good"
    [pair] = result.pairwise
    assert pair.candidate == "bad" and pair.test == "paired t-test over seeds"
    assert pair.p_value < 1e-10 and pair.p_holm < 1e-10 and pair.significantly_worse
    assert pair.mean_difference == pytest.approx(LOW[15:].mean() - HIGH[15:].mean())  # the judging half
    assert 0 < pair.ci_low <= pair.loss_difference <= pair.ci_high  # a loss: higher is worse
    assert pair.cliffs_delta == -1.0 and pair.cohens_d < -10
    assert "best mean ('good')" in result.rule and "test items not counted" in result.rule


def test_minimising_flips_the_winner():
    result = compare({"bad": LOW, "good": HIGH}, "minimize")
    assert result.best == "bad" and result.winner == "bad"
    [pair] = result.pairwise
    assert pair.candidate == "good" and pair.p_value < 1e-10 and pair.significantly_worse
    assert pair.mean_difference > 0  # metric units: good's scores are higher, which is worse here
    assert pair.cliffs_delta == -1.0  # oriented: negative = candidate worse


def test_summary_is_sorted_best_first_with_describe_sem_shapiro_and_params():
    result = compare({"mid": MID, "low": LOW, "high": HIGH}, "maximize", params={"mid": 2, "low": 3, "high": 1})
    s = result.summary
    assert list(s.index) == ["high", "mid", "low"]
    assert {"count", "mean", "std", "min", "25%", "50%", "75%", "max", "sem", "shapiro_p", "params"} <= set(s)
    assert s.loc["low", "mean"] == pytest.approx(LOW.mean())
    assert s.loc["low", "sem"] == pytest.approx(LOW.std(ddof=1) / math.sqrt(30))
    assert s.loc["mid", "params"] == 2
    assert list(compare({"mid": MID, "low": LOW, "high": HIGH}, "minimize").summary.index) == ["low", "mid", "high"]


# --- ties and the smaller-model rule --------------------------------------------------------------------------


def test_identical_groups_do_not_crash_and_the_smallest_model_wins_within_the_margin():
    noise = [rng.normal(0, 0.001, 30) for _ in range(3)]
    result = compare({"a": SAME + noise[0], "b": SAME + noise[1], "c": SAME + noise[2]}, "maximize",
                     params={"a": 900, "b": 100, "c": 500}, margin=0.05)
    assert all(not p.significantly_worse and p.equivalent for p in result.pairwise)
    assert result.winner == "b" and "smallest model (100 parameters)" in result.rule and "margin 0.05" in result.rule


def test_constant_scores_cannot_be_tested_and_say_so():
    result = compare({"a": [0.5] * 5, "b": [0.5] * 5, "c": [0.5] * 5}, "maximize", params={"a": 3, "b": 2, "c": 1},
                     margin=0.1)
    assert result.omnibus["p_value"] == 1.0 and "identical" in result.omnibus["note"]
    assert all(p.p_value == 1.0 and math.isnan(p.ci_low) and p.note for p in result.pairwise)
    assert not any(p.significantly_worse for p in result.pairwise)
    constant_gap = compare({"a": [0.5 + 1e-9] * 5, "b": [0.5] * 5}, "maximize")
    assert not constant_gap.pairwise[0].significantly_worse  # a constant difference is no evidence of certainty


def test_nearly_identical_groups_prefer_the_smaller_model_and_say_so():
    noisy = SAME + rng.normal(0, 0.001, 30)
    result = compare({"big": SAME + 0.0005, "small": noisy}, "maximize", params={"big": 10_000, "small": 50},
                     margin=0.005)
    assert result.best == "big" and result.winner == "small"
    assert result.pairwise[0].equivalent
    assert "smallest model (50 parameters)" in result.rule and "'big'" in result.rule and "Holm" in result.rule
    # without a margin, "not significantly worse" is not read as "as good": the best stays
    assert compare({"big": SAME + 0.0005, "small": noisy}, "maximize", params={"big": 10_000, "small": 50}).winner == "big"


def test_without_params_the_best_mean_wins_even_within_noise():
    result = compare({"big": SAME + 0.0005, "small": SAME}, "maximize")
    assert result.winner == "big" and "best mean" in result.rule


def test_best_mean_wins_when_it_is_also_the_smallest():
    result = compare({"big": SAME, "small": jitter(SAME + 0.0005)}, "maximize", params={"big": 10_000, "small": 50},
                     margin=0.005)
    assert result.winner == "small" and result.best == "small"
    assert result.rule.startswith("best mean") and "also the smallest" in result.rule


def test_equal_sizes_are_broken_by_the_better_mean():
    result = compare({"x": SAME, "y": jitter(SAME + 0.001), "z": jitter(SAME + 0.002)}, "maximize",
                     params={"x": 10, "y": 5, "z": 5}, margin=0.01)
    assert all(p.equivalent for p in result.pairwise)
    assert result.winner == "z"


def test_significantly_worse_candidate_is_not_chosen_even_if_smaller():
    result = compare({"big": HIGH, "tiny": LOW, "mid": jitter(HIGH - 0.0005)}, "maximize",
                     params={"big": 10_000, "tiny": 10, "mid": 500}, margin=0.005)
    assert next(p for p in result.pairwise if p.candidate == "tiny").significantly_worse
    assert result.winner == "mid"


# --- claims about means, on seeds and items -------------------------------------------------------------------


def test_a_diverging_seed_counts_by_how_bad_it_is():
    """A mean is a mean: a few very bad seeds make a candidate worse even when most of its seeds are better
    (a rank test ignores how bad; the test of means does not)."""
    good = np.full(20, 0.90) + rng.normal(0, 0.002, 20)
    flaky = good + 0.003
    flaky[:3] = 0.2  # 15% of its seeds diverged
    promotion = decide_promotion({"flaky": flaky}, good, "maximize")
    assert not promotion.better and promotion.decisions[0].loss_difference > 0


def test_item_losses_count_the_test_set_too():
    """Two configurations equal on new data, each with its own hard items: on one test set their losses
    differ by chance, which only the item term of the standard error accounts for."""
    items = 1000
    hard_a, hard_b = rng.random(items) < 0.01, rng.random(items) < 0.01
    a = np.tile(hard_a, (10, 1)).astype(float)  # every seed of A wrong on A's hard items
    b = np.tile(hard_b, (10, 1)).astype(float)
    a[:, :5] += 0 * rng.random((10, 5))
    with_items = Items({"a": a, "b": b})
    seeds_a, seeds_b = 1 - a.mean(axis=1), 1 - b.mean(axis=1)
    claim = compare({"a": seeds_a, "b": seeds_b}, "maximize", items=with_items,
                    selection={"a": seeds_a, "b": seeds_b})
    assert "1,000 test items" in claim.rule and claim.pairwise[0].sources == "over 10 seeds and 1,000 test items"
    d = loss_difference(a, b)
    assert d.se > 0 and d.seed_share == pytest.approx(0.0) and d.df == pytest.approx(items - 1)


def test_the_two_way_standard_error():
    a = rng.random((5, 40))
    b = rng.random((5, 40))
    d = loss_difference(a, b)
    diff = a - b
    expected = diff.mean(axis=1).var(ddof=1) / 5 + (a.mean(axis=0) - b.mean(axis=0)).var(ddof=1) / 40
    assert d.se == pytest.approx(math.sqrt(expected)) and d.mean == pytest.approx(diff.mean())
    low, high = d.interval()
    assert low < d.mean < high
    unpaired = loss_difference(a[:3], b)
    assert unpaired.se > 0 and unpaired.seeds == 3
    assert math.isnan(loss_difference(a[:1, :1], b[:1, :1]).p_below())  # one seed, one item: nothing to test


def test_selection_on_validation_scores_judges_on_every_test_seed():
    a = np.array([0.9, 0.9, 0.9, 0.5, 0.5, 0.5])
    b = np.array([0.7, 0.7, 0.7, 0.7, 0.7, 0.71])
    result = compare({"a": a, "b": b}, "maximize", selection={"a": [0.6] * 6, "b": [0.8] * 6})
    assert result.best == "b" and result.on_validation and (result.n_select, result.n_confirm) == (6, 6)
    assert result.estimate == pytest.approx(b.mean()) and "validation scores" in result.rule


# --- the test and its name ------------------------------------------------------------------------------------


def test_pairing_is_read_from_the_seeds():
    seed_effect = rng.normal(0, 0.05, 30)
    a, b = 0.8 + seed_effect, 0.8 + seed_effect - 0.005 + rng.normal(0, 0.001, 30)
    assert compare({"a": a, "b": b}, "maximize").pairwise[0].significantly_worse  # same seeds: paired
    assert not compare({"a": a, "b": b[:29]}, "maximize").pairwise[0].significantly_worse  # unpaired


def test_one_sided_building_block_tests_still_name_themselves():
    assert shapiro_p(LOW) > 0.05 and shapiro_p(HIGH) > 0.05
    assert one_sided_test(LOW, HIGH, 0.05, paired=False)[0] == "Welch's t-test"
    assert one_sided_test(LOW, HIGH, 0.05, paired=True)[0] == "paired t-test"
    assert shapiro_p(SKEWED) < 0.05 and one_sided_test(SKEWED, SKEWED + 2, 0.05)[0] == "Mann-Whitney U"


# --- omnibus --------------------------------------------------------------------------------------------------


def test_the_omnibus_test_describes_and_does_not_decide():
    paired = compare({"a": HIGH, "b": LOW, "c": MID}, "maximize")
    assert paired.omnibus["test"] == "Friedman" and paired.omnibus["p_value"] < 1e-5
    assert compare({"a": HIGH, "b": LOW, "c": MID[:29]}, "maximize").omnibus["test"] == "Kruskal-Wallis"
    assert compare({"a": HIGH, "b": LOW}, "maximize").omnibus is None
    assert "not applicable" in compare({"a": HIGH, "b": LOW}, "maximize").to_markdown()
    assert "the tests of means below decide" in paired.to_markdown()


# --- Holm, effect sizes, intervals ----------------------------------------------------------------------------


def test_holm_matches_a_hand_computed_example():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04), back in the input order
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])
    assert holm([0.6, 0.01]) == pytest.approx([0.6, 0.02])
    assert holm([0.9, 0.8, 0.7]) == pytest.approx([1.0, 1.0, 1.0])
    adjusted = holm([float("nan"), 0.01, 0.02])
    assert math.isnan(adjusted[0]) and adjusted[1:] == pytest.approx([0.02, 0.02])


def test_compare_applies_holm_across_the_pairwise_tests():
    result = compare({"best": HIGH, "a": jitter(HIGH - 0.004, 0.01), "b": jitter(HIGH - 0.006, 0.01), "c": LOW},
                     "maximize")
    raw = [p.p_value for p in result.pairwise]
    assert [p.p_holm for p in result.pairwise] == pytest.approx(holm(raw))
    assert any(p.p_holm > p.p_value for p in result.pairwise)


def test_effect_sizes():
    assert cliffs_delta([2, 3, 4], [0, 1]) == 1.0
    assert cliffs_delta([0, 1], [2, 3, 4]) == -1.0
    assert cliffs_delta([1, 2, 3], [1, 2, 3]) == 0.0
    assert cliffs_delta([1, 3], [2, 2]) == 0.0
    assert cohens_d([1, 1, 1], [1, 1, 1]) == 0.0
    assert cohens_d([2, 2, 2], [1, 1, 1]) == 0.0  # pooled sd 0 -> 0 by convention
    assert cohens_d([1, 2, 3], [3, 4, 5]) == pytest.approx(-2.0)  # pooled sd 1
    assert cohens_d(HIGH, LOW) > 10


def test_resampling_settings_change_the_intervals_only():
    scores = {"a": HIGH, "b": MID, "c": LOW}
    full = compare(scores, "maximize")
    bare = compare(scores, "maximize", resampling=Resampling(n_boot=0))
    assert math.isnan(bare.summary.loc["a", "iqm_low"]) and not math.isnan(full.summary.loc["a", "iqm_low"])
    assert (bare.winner, bare.rule) == (full.winner, full.rule)
    assert [p.p_holm for p in bare.pairwise] == [p.p_holm for p in full.pairwise]
    assert compare(scores, "maximize", resampling=Resampling(seed=1)).to_dict() == \
        compare(scores, "maximize", resampling=Resampling(seed=1)).to_dict()


def test_bootstrap_interval_is_seeded_and_covers_the_difference():
    first = bootstrap_ci(MID, LOW, paired=False, n_boot=500, seed=3)
    assert first == bootstrap_ci(MID, LOW, paired=False, n_boot=500, seed=3)
    assert first[0] < MID.mean() - LOW.mean() < first[1] and first[1] - first[0] < 0.02
    unknown = bootstrap_ci(MID + 0.01, MID, paired=True, n_boot=500, seed=3)
    assert all(math.isnan(v) for v in unknown)  # constant differences: no spread to estimate, no zero width
    assert all(math.isnan(v) for v in bootstrap_ci([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]))
    assert all(math.isnan(v) for v in bootstrap_ci([1.0], [2.0, 3.0]))


# --- champion / challenger ------------------------------------------------------------------------------------


def test_one_sided_promotion_decision():
    better = significantly_better(HIGH, LOW, "maximize")
    assert better.better and better.p_value < 1e-10 and better.test == "paired t-test over seeds"
    assert better.cliffs_delta == 1.0 and better.mean_difference > 0 and better.ci_high < 0  # loss lower
    worse = significantly_better(LOW, HIGH, "maximize")
    assert not worse.better and worse.p_value > 0.99
    assert significantly_better(LOW, HIGH, "minimize").better
    assert not significantly_better(HIGH, LOW, "minimize").better


def test_a_promotion_needs_the_minimum_effect_too():
    small_gain = SAME + 0.001 + rng.normal(0, 0.0001, 30)
    assert significantly_better(small_gain, SAME, "maximize").better
    decision = significantly_better(small_gain, SAME, "maximize", min_effect=0.005)
    assert not decision.better and "minimum effect" in decision.notes[0]


# --- degenerate input, serialisation, markdown ----------------------------------------------------------------


def test_too_few_seeds_is_not_a_crash_and_the_best_mean_wins():
    result = compare({"a": [0.9], "b": [0.5]}, "maximize", params={"a": 100, "b": 1})
    assert result.winner == "a" and math.isnan(result.pairwise[0].p_value) and "too few seeds" in result.rule
    assert result.to_dict()["winner"] == "a"
    decision = significantly_better([0.9], [0.8], "maximize")
    assert not decision.better and math.isnan(decision.p_value) and decision.notes


def test_untested_small_candidate_is_not_preferred():
    result = compare({"big": jitter(SAME + 0.001), "close": SAME, "tiny": [0.1]}, "maximize",
                     params={"big": 1000, "close": 500, "tiny": 1}, margin=0.02)
    assert result.winner == "close" and "untested" in result.rule


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        compare({"a": HIGH}, "up")
    with pytest.raises(ValueError):
        compare({}, "maximize")
    with pytest.raises(ValueError, match="different items"):
        loss_difference(np.ones((3, 4)), np.ones((3, 5)))


def test_to_dict_is_strict_json():
    result = compare({"a": HIGH, "b": LOW, "c": [0.7]}, "maximize", params={"a": 10, "b": 20, "c": 30})
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["winner"] == "a" and data["best"] == "a"
    assert [row["candidate"] for row in data["summary"]] == ["a", "c", "b"]
    assert data["summary"][0]["params"] == 10 and data["summary"][1]["shapiro_p"] is None
    assert {p["candidate"] for p in data["pairwise"]} == {"b", "c"}
    assert json.loads(json.dumps(significantly_better(HIGH, LOW, "maximize").to_dict(), allow_nan=False))["better"]


def test_markdown_has_the_tables_the_winner_and_the_rule():
    result = compare({"big": jitter(SAME + 0.0005), "small": SAME, "bad": LOW}, "maximize",
                     params={"big": 10_000, "small": 50, "bad": 1}, margin=0.02)
    md = result.to_markdown()
    assert f"**Winner: {result.winner}**" in md and result.winner == "small"
    assert result.rule in md
    assert "Friedman" in md and "p (Holm)" in md and "Cliff's delta" in md and "95% CI (loss)" in md
    assert "| candidate | n | mean |" in md and "10,000" in md
    assert md.count("\n| bad |") == 2  # a row in the summary and one in the pairwise table


# --- selection without the winner's curse, equivalence, promotion, power --------------------------------------

def standard_scores(n):
    """n scores with mean exactly 0 and SD exactly 1, shaped like a normal sample (Shapiro-Wilk passes)."""
    from scipy import stats

    z = stats.norm.ppf((np.arange(1, n + 1) - 0.375) / (n + 0.25))
    return (z - z.mean()) / z.std(ddof=1)


def test_the_best_is_chosen_on_one_half_and_estimated_on_the_other():
    a = np.array([0.9, 0.9, 0.9, 0.5, 0.5, 0.5])  # lucky first half
    b = np.array([0.7, 0.7, 0.7, 0.7, 0.7, 0.7])
    result = compare({"a": a, "b": b}, "maximize")
    assert result.best == "a" and (result.n_select, result.n_confirm) == (3, 3)
    assert result.estimate == pytest.approx(0.5)  # the winner's score on seeds that did not choose it
    assert result.summary.loc["a", "estimate"] == pytest.approx(0.5)
    assert result.summary.loc["a", "mean"] == pytest.approx(0.7)
    assert "chosen on 3 seeds, tested and estimated on 3 others" in result.rule
    assert compare({"a": a[:3], "b": b[:3]}, "maximize").n_confirm == 0  # too few seeds to hold out


def test_a_smaller_model_worse_by_two_margins_never_replaces_the_best():
    big = 0.9 + 0.01 * standard_scores(10)
    small = big - 0.02 + 0.001 * standard_scores(10)[::-1]  # 2 margins worse, tightly paired
    result = compare({"big": big, "small": small}, "maximize", params={"big": 1000, "small": 10}, margin=0.01)
    assert result.winner == "big" and not result.pairwise[0].equivalent
    assert result.pairwise[0].p_equivalent > 0.5


@pytest.mark.parametrize("shift,promoted", [(0.60, True), (0.56, False)])
def test_promotion_at_the_decision_boundary(shift, promoted):
    # paired differences with mean `shift` and SD 1 over 10 seeds: t = shift * sqrt(10); one-sided t(9)
    # critical value 1.833 puts the boundary at 0.5797
    baseline = 0.5 + 0.1 * standard_scores(10)
    challenger = baseline + shift + standard_scores(10)[::-1] * 1.0
    decision = decide_promotion({"c": challenger}, baseline, "maximize")
    assert decision.better is promoted and decision.decisions[0].test == "paired t-test over seeds"
    assert decision.decisions[0].cohens_d == pytest.approx(shift, abs=1e-9)  # paired: d_z


def test_promotion_holds_the_error_over_every_challenger():
    baseline = 0.5 + 0.1 * standard_scores(10)
    near = {f"c{i}": baseline + 0.62 + standard_scores(10)[::-1] for i in range(4)}  # raw p ~ 0.04 each
    decision = decide_promotion(near, baseline, "maximize")
    assert all(0.03 < d.p_value < 0.05 for d in decision.decisions)
    assert not decision.better and decision.winner is None and "kept" in decision.rule
    assert all(d.p_holm == pytest.approx(min(1, 4 * d.p_value), rel=0.01) or d.p_holm <= 1 for d in decision.decisions)
    clear = decide_promotion({"weak": baseline + 0.62 + standard_scores(10)[::-1], "strong": baseline + 2.0 +
                              standard_scores(10)[::-1]}, baseline, "maximize")
    assert clear.winner == "strong" and "Holm over 2" in clear.rule
    assert decide_promotion({"x": baseline - 1 + standard_scores(10)}, baseline, "minimize").better


def test_detectable_difference_and_seeds_for_a_margin():
    from scipy import stats

    mde = detectable_difference(1.0, 10, alpha=0.05, power=0.8, paired=True)
    critical = stats.t.ppf(0.95, 9)
    assert stats.nct.sf(critical, 9, mde * math.sqrt(10)) == pytest.approx(0.8, abs=1e-6)
    assert 0.8 < mde < 0.9
    assert detectable_difference(1.0, 30) < mde and detectable_difference(2.0, 10) == pytest.approx(2 * mde)
    n = seeds_for(0.5, 1.0)
    assert detectable_difference(1.0, n) <= 0.5 < detectable_difference(1.0, n - 1)
    assert seeds_for(0.001, 1.0, cap=40) == 40
    holm_planned = seeds_for(0.5, 1.0, comparisons=4)  # Holm's strictest step: alpha / 4
    assert holm_planned > n and detectable_difference(1.0, holm_planned, alpha=0.05 / 4) <= 0.5


def test_bootstrap_t_interval_covers_better_than_the_percentile_one_at_ten_seeds():
    from scipy import stats

    sims = np.random.default_rng(7)
    studentized = percentile = 0
    for r in range(300):
        d = sims.normal(0.1, 1.0, 10)
        low, high = bootstrap_ci(d, np.zeros(10), paired=True, n_boot=1000, seed=r)
        studentized += low <= 0.1 <= high
        ci = stats.bootstrap((d,), np.mean, n_resamples=1000, method="percentile",
                             rng=np.random.default_rng(r)).confidence_interval
        percentile += ci.low <= 0.1 <= ci.high
    assert studentized / 300 >= 0.9 and studentized - percentile >= 9  # nominal 95%; percentile ~88-90%


def test_robust_summaries():
    assert iqm([0, 1, 2, 3, 4, 5, 6, 100]) == pytest.approx(np.mean([2, 3, 4, 5]))
    low, high = iqm_ci(SAME)
    assert low < iqm(SAME) < high
    assert probability_of_improvement([2, 3], [1, 1]) == 1.0 and probability_of_improvement([1], [1]) == 0.5
    assert effect_size([2, 3, 4], [1, 1, 1], paired=True) == pytest.approx(2.0)  # d_z: mean 2 / sd 1
    assert effect_size([2, 3, 4], [1, 1, 1]) == pytest.approx(cohens_d([2, 3, 4], [1, 1, 1]))


def test_diverged_seeds_score_the_worst_score_of_any_run():
    filled, rule = fill_failed({"a": [0.9, math.nan, 0.8], "b": [0.7, 0.75, 0.72]}, "maximize")
    assert filled == {"a": [0.9, 0.7, 0.8], "b": [0.7, 0.75, 0.72]} and "a: 1" in rule and "0.7" in rule
    filled, rule = fill_failed({"a": [1.0, math.nan], "b": [2.0, 3.0]}, "minimize")
    assert filled["a"] == [1.0, 3.0] and rule
    assert fill_failed({"a": [1.0, 2.0]}, "maximize") == ({"a": [1.0, 2.0]}, "")
    with pytest.raises(ValueError, match="every seed"):
        fill_failed({"a": [math.nan]}, "maximize")
