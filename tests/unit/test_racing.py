"""Racing across seeds: a trial is stopped only on a consistent gap, Bonferroni over its looks."""

from pipeline.search.racing import planned_looks, race_p_value, race_reference, raced_out


def test_racing_needs_two_seeds_and_a_consistent_gap():
    assert raced_out([0.1], [0.9], "maximize") == (False, 1.0)  # one seed never decides
    stop, p = raced_out([0.50, 0.52, 0.49], [0.90, 0.91, 0.92], "maximize")
    assert stop and p < 0.05
    assert not raced_out([0.95, 0.40], [0.90, 0.91], "maximize")[0]  # mixed evidence
    assert not raced_out([0.92, 0.93], [0.90, 0.91], "maximize")[0]  # better, not worse
    assert raced_out([0.3, 0.31, 0.29], [0.1, 0.12, 0.1], "minimize")[0]  # minimising: higher is worse
    assert race_p_value([0.5, 0.5], [0.5, 0.5], "maximize") == 1.0
    assert race_p_value([0.3, 0.3], [0.1, 0.1], "maximize") == 1.0  # zero variance is no evidence, not p = 0


def test_racing_is_bonferroni_over_its_looks_against_the_median_trial():
    scores, reference = [0.50, 0.57, 0.52, 0.59], [0.56, 0.58, 0.57, 0.60]
    p = race_p_value(scores, reference, "maximize")
    assert 0.01 < p < 0.05  # near the boundary: stops with one look, not when shared by three
    assert raced_out(scores, reference, "maximize", looks=1) == (True, p)
    assert raced_out(scores, reference, "maximize", looks=3) == (False, p)
    assert planned_looks(3) == 1 and planned_looks(10) == 8
    assert race_reference([[0.1, 0.2]]) is None  # too few complete trials
    assert race_reference([[0.1, 0.9, 5], [0.2, 0.5], [0.3, 0.1]]) == [0.2, 0.5]  # per-seed median
    # a trial stopped after 2 seeds still counts for those seeds: not a median of the survivors only
    assert race_reference([[0.9, 0.9, 0.9], [0.8, 0.8, 0.8], [0.1, 0.1], [0.7, 0.7, 0.7]]) == [0.75, 0.75, 0.8]
