"""Racing across seeds (as in F-Race / irace): stop adding seeds to a trial that is significantly worse
than the study's typical trial on the same seeds.

Calibrated (bench/calibration measures it): an equal trial is stopped at most alpha of the time over
all its looks.
- The reference is the per-seed median of the earlier trials (stopped ones included), not the
  incumbent: the incumbent is a sample maximum, and testing against it stopped 11% (3 seeds) to 40%
  (10 seeds) of equal trials.
- Bonferroni over the planned looks (after seed 2, 3, ..., S - 1: S - 2 looks, at least one).
- A one-sided paired t-test on the differences; zero variance is no evidence (p = 1), never p = 0.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

MIN_REFERENCE_TRIALS = 3  # complete trials needed before racing starts


def race_reference(trials: Sequence[Sequence[float]], min_trials: int = MIN_REFERENCE_TRIALS) -> list[float] | None:
    """Per-seed median score of the study's earlier trials (each a list of per-seed scores, complete or
    stopped early: a stopped trial's seeds count too, so the reference is not a survivors' median).
    Seed position p uses the trials that ran it; the reference ends at the first position run by fewer
    than `min_trials` trials (None when even the first is). Trials of a study share its seed list."""
    rows = [list(map(float, r)) for r in trials if r]
    reference = []
    for position in range(max((len(r) for r in rows), default=0)):
        values = [r[position] for r in rows if len(r) > position]
        if len(values) < min_trials:
            break
        reference.append(float(np.median(values)))
    return reference or None


def planned_looks(n_seeds: int) -> int:
    """Looks a trial of n_seeds gets: after each seed from the second while seeds remain (at least 1)."""
    return max(1, n_seeds - 2)


def race_p_value(scores: Sequence[float], reference: Sequence[float], direction: str) -> float:
    """One-sided paired t-test p-value that `scores` are worse than `reference` on the shared seeds.

    Uses the first min(len) seeds of each; needs 2. Zero variance of the differences gives p = 1."""
    n = min(len(scores), len(reference))
    if n < 2:
        return 1.0
    a, b = np.asarray(scores[:n], float), np.asarray(reference[:n], float)
    diff = a - b if direction == "maximize" else b - a  # negative = worse
    if np.ptp(diff) == 0:
        return 1.0
    p = float(stats.ttest_1samp(diff, 0.0, alternative="less").pvalue)
    return 1.0 if math.isnan(p) else p


def raced_out(scores: Sequence[float], reference: Sequence[float] | None, direction: str,
              alpha: float = 0.05, looks: int = 1, min_seeds: int = 2) -> tuple[bool, float]:
    """(stop?, p): stop when at least min_seeds are run and p < alpha / looks (Bonferroni)."""
    if reference is None or len(scores) < min_seeds:
        return False, 1.0
    p = race_p_value(scores, reference, direction)
    return p < alpha / max(1, looks), p
