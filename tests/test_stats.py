"""Statistics on constructed score sets with known answers."""
import math

import numpy as np
import pytest

from reports.stats import cliffs_delta, cohens_d, compare, holm, one_sided_test, significantly_better

rng = np.random.default_rng(0)
HIGH = rng.normal(0.9, 0.01, 30)
LOW = rng.normal(0.5, 0.01, 30)
SAME = rng.normal(0.7, 0.02, 30)


def test_clearly_different_groups_give_tiny_p_and_the_better_wins():
    result = compare({"good": HIGH, "bad": LOW}, "maximize")
    assert result.winner == "good" and result.best == "good"
    assert result.pairwise[0].candidate == "bad" and result.pairwise[0].p_holm < 1e-6
    assert result.pairwise[0].significantly_worse
    assert result.pairwise[0].ci_high < 0 and result.pairwise[0].cliffs_delta == -1.0


def test_minimising_flips_the_winner():
    assert compare({"good": HIGH, "bad": LOW}, "minimize").winner == "bad"


def test_identical_groups_do_not_crash_and_the_smaller_model_wins():
    result = compare({"a": SAME, "b": SAME.copy(), "c": SAME.copy()}, "maximize",
                     params={"a": 900, "b": 100, "c": 500}, paired=True)
    assert result.omnibus["p_value"] == 1.0
    assert all(p.p_value == 1.0 and not p.significantly_worse for p in result.pairwise)
    assert result.winner == "b" and "smallest model" in result.rule


def test_nearly_identical_groups_prefer_the_smaller_model_and_say_so():
    noisy = SAME + rng.normal(0, 0.001, 30)
    result = compare({"big": SAME + 0.0005, "small": noisy}, "maximize", params={"big": 10_000, "small": 50})
    assert result.best == "big" and result.winner == "small"
    assert "smallest model (50 parameters)" in result.rule and "'big'" in result.rule
    md = result.to_markdown()
    assert "**Winner: small**" in md and "Holm" in md


def test_significantly_worse_candidate_is_not_chosen_even_if_smaller():
    result = compare({"big": HIGH, "tiny": LOW}, "maximize", params={"big": 10_000, "tiny": 10})
    assert result.winner == "big"


def test_one_sided_promotion_decision():
    assert significantly_better(HIGH, LOW, "maximize").better
    worse = significantly_better(LOW, HIGH, "maximize")
    assert not worse.better and worse.p_value > 0.99
    assert significantly_better(LOW, HIGH, "minimize").better
    assert not significantly_better(SAME, SAME.copy(), "maximize", paired=True).better


def test_test_choice_follows_pairing_and_normality():
    assert one_sided_test(LOW, HIGH, 0.05, paired=True)[0] == "paired t-test"
    assert one_sided_test(LOW, HIGH, 0.05, paired=False)[0] == "Welch's t-test"
    skewed_a, skewed_b = rng.exponential(1.0, 30), rng.exponential(1.0, 30) + 2
    assert one_sided_test(skewed_a, skewed_b, 0.05, paired=False)[0] == "Mann-Whitney U"
    assert one_sided_test(skewed_a, skewed_b, 0.05, paired=True)[0] == "Wilcoxon signed-rank"


def test_omnibus_choice():
    assert compare({"a": HIGH, "b": LOW, "c": SAME}, "maximize").omnibus["test"] == "Kruskal-Wallis"
    paired = compare({"a": HIGH, "b": LOW, "c": SAME}, "maximize", paired=True)
    assert paired.omnibus["test"] == "Friedman" and paired.omnibus["p_value"] < 1e-6
    assert compare({"a": HIGH, "b": LOW}, "maximize").omnibus is None


def test_holm_matches_a_hand_computed_example():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert math.isnan(holm([float("nan"), 0.01])[0])


def test_effect_sizes():
    assert cliffs_delta([2, 3, 4], [0, 1]) == 1.0
    assert cliffs_delta([1, 2, 3], [1, 2, 3]) == 0.0
    assert cohens_d([1, 1, 1], [1, 1, 1]) == 0.0
    assert cohens_d(HIGH, LOW) > 10


def test_too_few_seeds_is_not_a_crash():
    result = compare({"a": [0.9], "b": [0.5]}, "maximize")
    assert result.winner == "a" and math.isnan(result.pairwise[0].p_value)
    assert result.to_dict()["winner"] == "a"
