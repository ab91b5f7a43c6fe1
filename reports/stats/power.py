"""Power: the smallest difference a number of seeds can detect, and the seeds a margin needs."""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats


def detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> float:
    """The smallest true difference a one-sided t-test at `alpha` detects with `power`, for n seeds.

    Paired: sd is the SD of the per-seed differences (one-sample t, n - 1 df); unpaired: the common SD of
    each group of n (two-sample t, 2n - 2 df). nan when it cannot be computed (n < 2 or sd unknown)."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    df, se = (n - 1, sd / math.sqrt(n)) if paired else (2 * n - 2, sd * math.sqrt(2.0 / n))
    critical = stats.t.ppf(1 - alpha, df)

    def shortfall(delta: float) -> float:
        return float(stats.nct.sf(critical, df, delta / se)) - power

    return float(optimize.brentq(shortfall, 0.0, 50 * se + 1e-12))


def seeds_for(margin: float, sd: float, alpha: float = 0.05, power: float = 0.8, paired: bool = True,
              low: int = 3, cap: int = 100) -> int:
    """The fewest seeds (from `low`, at most `cap`) whose detectable difference is within `margin`."""
    for n in range(max(2, low), cap + 1):
        if detectable_difference(sd, n, alpha, power, paired) <= margin:
            return n
    return cap


def median_detectable(confirm: dict[str, np.ndarray], best: str, others: list[str], alpha: float,
                      paired: bool) -> float:
    """The median over candidates of the difference their test against the best detects with 80% power."""
    values = []
    for n in others:
        a, b = confirm[n], confirm[best]
        if min(len(a), len(b)) < 2:
            continue
        sd = float(np.std(a - b, ddof=1)) if paired else math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        values.append(detectable_difference(sd, min(len(a), len(b)), alpha, 0.8, paired))
    return float(np.median(values)) if values else math.nan
