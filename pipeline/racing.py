"""Racing across seeds (as in F-Race / irace): stop adding seeds to a trial that is
significantly worse than the incumbent on the same seeds."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats


def race_p_value(scores: Sequence[float], incumbent: Sequence[float], direction: str) -> float:
    """One-sided paired t-test p-value that `scores` is worse than `incumbent` on shared seeds.

    Uses the first min(len) seeds of each; needs at least 2. Identical differences (zero
    variance) give p=0 when all say worse, p=1 otherwise.
    """
    n = min(len(scores), len(incumbent))
    if n < 2:
        return 1.0
    a, b = np.asarray(scores[:n], float), np.asarray(incumbent[:n], float)
    diff = a - b if direction == "maximize" else b - a  # negative = worse
    if np.allclose(diff, diff[0]):
        return 0.0 if diff[0] < 0 else 1.0
    return float(stats.ttest_1samp(diff, 0.0, alternative="less").pvalue)


def raced_out(scores: Sequence[float], incumbent: Sequence[float] | None, direction: str,
              alpha: float = 0.05, min_seeds: int = 2) -> tuple[bool, float]:
    """(stop?, p): stop when at least min_seeds are run and p < alpha."""
    if incumbent is None or len(scores) < min_seeds:
        return False, 1.0
    p = race_p_value(scores, incumbent, direction)
    return p < alpha, p
