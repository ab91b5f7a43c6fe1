"""Calibration of every decision rule, simulated on the project's own functions (reports.stats,
pipeline.search.racing): how often each fires when it should not (A/A), and how often it fires when it should.

Scores are simulated per seed as the pipeline sees them: a seed effect shared by every candidate on that
seed (paired seeds) plus each run's own noise, in SD units of a candidate's score. "Discrete" scores are
accuracies on 200 test items (binomial counts), with many ties, as rounded accuracies give.

Run: .venv/bin/python -m bench.calibration [--reps 2000]
"""
from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from scipy import stats

from bench.common import Results, table
from pipeline.search.racing import planned_looks, race_reference, raced_out
from reports.stats import Resampling, bootstrap_ci, compare, decide_promotion

ALPHA = 0.05
SEED_SD, RUN_SD = 0.6, 0.8  # a candidate's score: SD 1 (0.6^2 + 0.8^2), 36% of its variance shared by seed


def scores(rng: np.random.Generator, n_seeds: int, shifts: list[float], discrete: bool) -> list[np.ndarray]:
    """One score vector per candidate (mean = shift, SD 1) on the same seeds; discrete: accuracies."""
    seed_effect = rng.normal(0, SEED_SD, n_seeds)
    out = [shift + seed_effect + rng.normal(0, RUN_SD, n_seeds) for shift in shifts]
    if discrete:  # accuracy on 200 items around 0.9, one SD of the score = 0.02
        out = [rng.binomial(200, np.clip(0.9 + 0.02 * v, 0, 1)) / 200 for v in out]
    return out


def promotion_rate(rng, reps: int, n_seeds: int, challengers: int, shift: float, discrete: bool) -> float:
    """Share of retunes that promote a challenger; the baseline has mean 0, one challenger `shift`."""
    fired = 0
    for _ in range(reps):
        baseline, *others = scores(rng, n_seeds, [0.0, shift] + [0.0] * (challengers - 1), discrete)
        result = decide_promotion({f"c{i}": v for i, v in enumerate(others)}, baseline, "maximize", ALPHA,
                                  paired=True, n_boot=0)
        fired += result.better
    return fired / reps


def selection_rates(rng, reps: int, n_seeds: int, candidates: int) -> tuple[float, float, float, float]:
    """A/A selection with `candidates` equal ones: (share where some candidate is called significantly worse,
    with the holdout; the same without it; mean bias of the winner's reported score, with; without)."""
    fired = fired_naive = 0
    bias, bias_naive = [], []
    for _ in range(reps):
        values = scores(rng, n_seeds, [0.0] * candidates, False)
        named = {f"c{i}": v for i, v in enumerate(values)}
        held = compare(named, "maximize", alpha=ALPHA, paired=True, resampling=Resampling(n_boot=0))
        naive = compare(named, "maximize", alpha=ALPHA, paired=True, holdout=False,
                        resampling=Resampling(n_boot=0))
        fired += any(p.significantly_worse for p in held.pairwise)
        fired_naive += any(p.significantly_worse for p in naive.pairwise)
        bias.append(held.estimate)
        bias_naive.append(naive.estimate)
    return fired / reps, fired_naive / reps, float(np.mean(bias)), float(np.mean(bias_naive))


def smaller_wins(rng, reps: int, n_seeds: int, gap_in_margins: float, margin: float = 0.5) -> float:
    """Share of reports where a smaller candidate truly worse by gap * margin replaces the best."""
    wins = 0
    for _ in range(reps):
        big, small = scores(rng, n_seeds, [0.0, -gap_in_margins * margin], False)
        result = compare({"big": big, "small": small}, "maximize", params={"big": 1000, "small": 10},
                         alpha=ALPHA, paired=True, margin=margin, resampling=Resampling(n_boot=0))
        wins += result.winner == "small"
    return wins / reps


def racing_kill_rate(rng, studies: int, trials: int, n_seeds: int) -> float:
    """Share of equal trials stopped by racing over whole studies (each trial raced as it runs)."""
    killed = raced = 0
    for _ in range(studies):
        complete: list[list[float]] = []  # every earlier trial's seeds, stopped ones included
        seed_effect = rng.normal(0, SEED_SD, n_seeds)
        for _ in range(trials):
            run = seed_effect + rng.normal(0, RUN_SD, n_seeds)
            reference = race_reference(complete)
            stopped = False
            if reference is not None:
                raced += 1
                for k in range(2, n_seeds):  # a look after each seed while seeds remain
                    stop, _ = raced_out(list(run[:k]), reference, "maximize", ALPHA, planned_looks(n_seeds))
                    if stop:
                        stopped = True
                        break
            killed += stopped
            complete.append(list(run[:k]) if stopped else list(run))  # a stopped trial's seeds count too
    return killed / max(raced, 1)


def old_racing_kill_rate(rng, studies: int, trials: int, n_seeds: int) -> float:
    """The rule before: a paired t-test at alpha at every look against the incumbent (the best trial)."""
    killed = raced = 0
    for _ in range(studies):
        complete: list[np.ndarray] = []
        seed_effect = rng.normal(0, SEED_SD, n_seeds)
        for _ in range(trials):
            run = seed_effect + rng.normal(0, RUN_SD, n_seeds)
            stopped = False
            if complete:
                raced += 1
                incumbent = max(complete, key=np.mean)
                for k in range(2, n_seeds):
                    diff = run[:k] - incumbent[:k]
                    p = 0.0 if np.ptp(diff) == 0 else stats.ttest_1samp(diff, 0, alternative="less").pvalue
                    if p < ALPHA:
                        stopped = True
                        break
            killed += stopped
            if not stopped:
                complete.append(run)
    return killed / max(raced, 1)


def coverage(rng, reps: int, n: int, skewed: bool) -> tuple[float, float]:
    """(bootstrap-t, percentile) coverage of a nominal 95% interval of a mean difference, paired."""
    hits = hits_pct = 0
    for r in range(reps):
        d = rng.exponential(1, n) - 1 + 0.1 if skewed else rng.normal(0.1, 1, n)
        low, high = bootstrap_ci(d, np.zeros(n), paired=True, n_boot=1000, seed=r)
        hits += low <= 0.1 <= high
        ci = stats.bootstrap((d,), np.mean, n_resamples=1000, method="percentile",
                             rng=np.random.default_rng(r)).confidence_interval
        hits_pct += ci.low <= 0.1 <= ci.high
    return hits / reps, hits_pct / reps


def run(results: Results, reps: int = 2000, seed: int = 0) -> None:
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(seed)
    error = 1.96 * math.sqrt(ALPHA * (1 - ALPHA) / reps)
    section = "calibration"

    rows = []
    for discrete in (False, True):
        for n in (10, 30):
            rates = [promotion_rate(rng, reps, n, m, 0.0, discrete) for m in (1, 2, 3, 4, 5)]
            for m, rate in zip((1, 2, 3, 4, 5), rates):
                results.add(section, f"aa_promotion_{'discrete' if discrete else 'normal'}_n{n}_m{m}", rate)
            rows.append(["discrete accuracy" if discrete else "normal", n] + [f"{r:.3f}" for r in rates])
    promotion = table(["scores", "seeds", "1 challenger", "2", "3", "4", "5"], rows)

    power_rows = []
    for n in (10, 30):
        cells = []
        for shift in (0.5, 1.0, 1.5):
            rate = promotion_rate(rng, max(reps // 4, 10), n, 1, shift, False)
            results.add(section, f"power_n{n}_shift{shift}", rate)
            cells.append(f"{rate:.3f}")
        power_rows.append([n] + cells)
    power = table(["seeds", "+0.5 SD", "+1.0 SD", "+1.5 SD"], power_rows)

    sel_rows = []
    for n in (10, 30):
        held, naive, bias, bias_naive = selection_rates(rng, max(reps // 2, 10), n, 6)
        results.add(section, f"aa_selection_holdout_n{n}", held)
        results.add(section, f"aa_selection_same_seeds_n{n}", naive)
        results.add(section, f"winner_bias_holdout_n{n}", bias, "SD")
        results.add(section, f"winner_bias_same_seeds_n{n}", bias_naive, "SD")
        sel_rows.append([n, f"{held:.3f}", f"{naive:.3f}", f"{bias:+.3f}", f"{bias_naive:+.3f}"])
    selection = table(["seeds", "some candidate 'worse' (holdout)", "same seeds choose and test",
                       "winner's estimate bias (holdout, SD)", "bias, same seeds"], sel_rows)

    eq_rows = []
    for n in (10, 30):
        cells = []
        for gap in (2.0, 1.0, 0.0):
            rate = smaller_wins(rng, max(reps // 2, 10), n, gap)
            results.add(section, f"smaller_wins_n{n}_gap{gap}", rate)
            cells.append(f"{rate:.3f}")
        eq_rows.append([n] + cells)
    equivalence = table(["seeds", "smaller worse by 2 margins", "by 1 margin", "truly equal"], eq_rows)

    race_rows = []
    for n in (3, 5, 10):
        new = racing_kill_rate(rng, max(reps // 10, 5), 20, n)
        old = old_racing_kill_rate(rng, max(reps // 10, 5), 20, n)
        results.add(section, f"racing_kill_equal_n{n}", new)
        results.add(section, f"racing_kill_equal_old_n{n}", old)
        race_rows.append([n, f"{new:.3f}", f"{old:.3f}"])
    racing = table(["seeds per trial", "equal trials stopped (now)", "before (vs incumbent, alpha per look)"],
                   race_rows)

    cov_rows = []
    for n in (10, 30):
        for skewed in (False, True):
            t, pct = coverage(rng, max(reps // 5, 10), n, skewed)
            results.add(section, f"coverage_bootstrap_t_n{n}_{'skewed' if skewed else 'normal'}", t)
            results.add(section, f"coverage_percentile_n{n}_{'skewed' if skewed else 'normal'}", pct)
            cov_rows.append([n, "skewed" if skewed else "normal", f"{t:.3f}", f"{pct:.3f}"])
    intervals = table(["seeds", "differences", "bootstrap-t (ours)", "percentile"], cov_rows)

    results.section("Calibration of the decision rules", "\n\n".join([
        f"Simulated on the project's own functions, {reps} repetitions per A/A cell (simulation error "
        f"±{error:.3f} at 5%); scores in SD units, seed effect shared by all candidates (paired seeds).",
        "**A/A promotion rate** (`decide_promotion`, all challengers equal to the baseline; target ≤ 0.05):",
        promotion,
        "**Power** (one challenger truly better by the shift, in SD of a score; target ≥ 0.80 at +1.5 SD, "
        "10 seeds):", power,
        "**A/A selection** (`compare`, 6 equal candidates): how often some candidate is called significantly "
        "worse than the chosen best, and the bias of the winner's reported score:", selection,
        "**Equivalence margin** (margin 0.5 SD; a smaller model replaces the best only when shown within it; "
        "target ≤ 0.05 at 2 margins):", equivalence,
        "**Racing** (20 equal trials per study; share of trials stopped; target ≤ 0.05):", racing,
        "**Interval coverage** (nominal 0.95, paired mean difference):", intervals]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    run(Results(), reps=args.reps)


if __name__ == "__main__":
    main()
