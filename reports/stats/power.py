"""Power: the smallest difference a number of seeds can detect, and the seeds a margin needs."""
from __future__ import annotations

import math

from scipy import optimize, stats


def detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> float:
    """The smallest true difference a one-sided t-test at `alpha` detects with `power`, for n seeds.

    Paired: sd is the SD of the per-seed differences (one-sample t, n - 1 df); unpaired: the common SD of
    each group of n (two-sample t, 2n - 2 df). nan when it cannot be computed (n < 2 or sd unknown)."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    df, se = (n - 1, sd / math.sqrt(n)) if paired else (2 * n - 2, sd * math.sqrt(2.0 / n))
    return detectable_from_se(se, df, alpha, power)


def detectable_from_se(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference a one-sided t-test at `alpha` detects with `power`, given the standard
    error of the difference and its degrees of freedom (noncentral t); nan when either is unknown."""
    if not (math.isfinite(se) and df > 0):
        return math.nan
    if se == 0:
        return 0.0
    critical = stats.t.ppf(1 - alpha, df)

    def shortfall(delta: float) -> float:
        return float(stats.nct.sf(critical, df, delta / se)) - power

    return float(optimize.brentq(shortfall, 0.0, 50 * se + 1e-12))


def seeds_for(margin: float, sd: float, alpha: float = 0.05, power: float = 0.8, paired: bool = True,
              low: int = 3, cap: int = 100, comparisons: int = 1) -> int:
    """The fewest seeds (from `low`, at most `cap`) whose detectable difference is within `margin`, each of
    `comparisons` tests at Holm's strictest level alpha / comparisons (so the plan holds after Holm)."""
    level = alpha / max(1, comparisons)
    for n in range(max(2, low), cap + 1):
        if detectable_difference(sd, n, level, power, paired) <= margin:
            return n
    return cap
