"""Calibration of every decision rule under DATA-LEVEL nulls, simulated on the project's own functions
(reports.stats, pipeline.search.racing) called as the stages call them: how often each claims a difference
that new data would not show (the nulls), and how often it finds one that is there (power).

The data and the calls: bench/calibration_nulls.py. Racing and interval coverage are simulated on per-seed
scores (a seed effect shared by paired seeds plus each run's noise).

Run: .venv/bin/python -m bench --only calibration [--quick]; .venv/bin/python -m bench.calibration --reps 200
"""
from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
from scipy import stats

from bench import calibration_nulls as nulls
from bench.calibration_nulls import ALPHA, MARGIN, Classifiers
from bench.common import Results, table
from pipeline.search.racing import planned_looks, race_reference, raced_out
from reports.stats import bootstrap_ci

SEED_SD, RUN_SD = 0.6, 0.8  # racing and coverage: a score's SD 1, 36% of its variance shared by the seed

NULLS = (
    "**What the nulls mean.** *Equal on new data*: the configurations have the same expected loss on test "
    "items drawn fresh from the population and on seeds trained afresh; every repetition draws a new test "
    "set, so a rule that takes this one test set for the future (the seed-only rule: the same call without "
    "`items`) shows it. *Shared difficulty*: every configuration finds the same items hard, only seeds and "
    "each seed's right-or-wrong outcomes differ; *own hard items* (item-level interaction): each "
    "configuration draws its own per-item error probabilities from the same population, so on any one test "
    "set one of them looks better. *As good as naive*: the forecast's expected squared error over the "
    "stationary series equals the naive forecast's (last value); every repetition is a new stretch of the "
    "series. *Equal ensemble*: the ensemble's expected per-item loss equals the single seed model's, on "
    "fresh items. A null rate above its target is a rule that claims more than new data would show; a power "
    "below its target, one that misses real differences.")


def _rate(value: float) -> str:
    return f"{value:.3f}"


def _timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"[calibration] {label}: {time.perf_counter() - start:.0f} s", flush=True)
    return out


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


def equal_on_new_data(results: Results, rng, reps: int) -> str:
    """Table 1: every stage's rule with the configurations equal on new data."""
    cells = {}
    for interaction in (False, True):
        for seeds in (10, 30):
            key = f"{'own_items' if interaction else 'shared_items'}_n{seeds}"
            cells[key] = _timed(f"equal {key}", lambda: nulls.equal_configurations(
                rng, Classifiers(interaction=interaction), reps, seeds))
            for name, value in cells[key].items():
                results.add("calibration", f"equal_{name}_{key}", value)
    rows = []
    for label, rule, target in (
            ("retune: 3 equal challengers, one promoted (`decide_promotion`, min_effect = margin)", "retune", "≤ 0.05"),
            ("retune, the test alone (Holm p < alpha, min_effect 0)", "retune_test", "≤ 0.05"),
            ("finalize: the refit winner promoted over the champion (`significantly_better`, min_effect = margin)",
             "finalize", "≤ 0.05"),
            ("finalize, the test alone (p < alpha, min_effect 0)", "finalize_test", "≤ 0.05"),
            ("report: some of 4 equal candidates 'significantly worse' than the best (`compare`, chosen on "
             "validation)", "report", "≤ 0.05")):
        rows.append([label] + [f"{_rate(c[rule])} ({_rate(c[rule + '_seeds'])})" for c in cells.values()] + [target])
    return table(["rule (rate with items; in brackets the seed-only rule)", "shared difficulty, 10 seeds",
                  "shared, 30 seeds", "own hard items, 10 seeds", "own hard items, 30 seeds", "target"], rows)


def forecasts(results: Results, rng, reps: int) -> str:
    """Table 2: 'beats naive' (Diebold-Mariano) on AR(1) stretches, nulls and power."""
    grid = [(phi, steps) for phi in (0.9, 0.97) for steps in (20, 40)]
    rows = []
    for label, kind, seeds in (("naive + the fixed perturbation -2(1 - phi) x, i.e. (2 phi - 1) x", "perturbed", 1),
                               ("the optimum phi x + the model's own errors", "noisy", 1),
                               ("5 seeds' mean forecast (each seed's coefficient and noise vary)", "seeds", 5),
                               ("15 seeds' mean forecast", "seeds", 15)):
        cells = []
        for phi, steps in grid:
            rate = nulls.beats_naive(rng, reps, phi, steps, kind, seeds)
            results.add("calibration", f"beats_naive_{kind}{seeds}_phi{phi}_steps{steps}", rate)
            cells.append(_rate(rate))
        rows.append([label] + cells + ["", "", "≤ 0.06"])
    power = []
    for steps in (20, 40):
        rate = nulls.beats_naive(rng, max(reps // 2, 10), 0.5, steps, "optimum")
        results.add("calibration", f"beats_naive_power_phi0.5_steps{steps}", rate)
        power.append(_rate(rate))
    rows.append(["power: 25% lower MSE than naive (phi 0.5: the conditional mean phi x)", "", "", "", ""] + power
                + ["≥ 0.50 at 40 steps"])
    return table(["model as good as naive in expectation (null), or better", "phi 0.9, 20 steps", "phi 0.9, 40",
                  "phi 0.97, 20", "phi 0.97, 40", "phi 0.5, 20", "phi 0.5, 40", "target"], rows)


def ensembles(results: Results, rng, reps: int) -> str:
    """Table 3: the ensemble rule (`fixed_model_better`) on equal and better ensembles."""
    rows = []
    for label, name, fn, target in (
            ("classification, equal ensemble (McNemar; accuracy 0.99, 1,000 items, 80% of item outcomes shared "
             "with the seed)", "ensemble_equal_classification", lambda: nulls.ensemble_classification(rng, reps),
             "≤ 0.05"),
            ("RMSE, equal: squared errors, the ensemble's residuals heavy-tailed (t5), the seed's normal "
             "(right-skewed differences)", "ensemble_equal_rmse_heavy_ensemble",
             lambda: nulls.ensemble_regression(rng, reps, "ensemble"), "≤ 0.05"),
            ("RMSE, equal: the seed's residuals heavy-tailed, the ensemble's normal",
             "ensemble_equal_rmse_heavy_single", lambda: nulls.ensemble_regression(rng, reps, "single"), "≤ 0.05"),
            ("power: ensemble 0.5 accuracy points better (0.995 against 0.99), 1,000 items",
             "ensemble_power_classification", lambda: nulls.ensemble_classification(rng, reps, 0.005),
             "≥ 0.25")):
        rate = fn()
        results.add("calibration", name, rate)
        rows.append([label, _rate(rate), target])
    return table(["scenario (ensemble registered)", "rate", "target"], rows)


def divergence(results: Results, rng, reps: int) -> str:
    """Table 4: a challenger better on most seeds, diverging on 15% of them: its mean is worse."""
    rows = []
    for seeds, diverged, error in ((10, 2, 0.5), (10, 2, 0.05), (20, 3, 0.5), (20, 3, 0.05)):
        retune, final = nulls.diverging(rng, Classifiers(), reps, seeds, diverged, error)
        results.add("calibration", f"diverging_retune_n{seeds}_d{diverged}_e{error}", retune)
        results.add("calibration", f"diverging_finalize_n{seeds}_d{diverged}_e{error}", final)
        mean = ((seeds - diverged) * 0.005 + diverged * error) / seeds
        rows.append([f"{diverged} of {seeds} seeds at error {error}, the others at 0.005 (mean error {mean:.4f} "
                     f"against the baseline's 0.01)", _rate(retune), _rate(final), "0"])
    return table(["challenger (own hard items)", "retune promotes", "finalize promotes", "target"], rows)


def smaller_model(results: Results, rng, reps: int) -> str:
    """Table 5: the smaller-model rule when the smaller model is truly worse by one and two margins."""
    rows = []
    for interaction in (False, True):
        for seeds in (10, 30):
            cells = []
            for gap, n in ((1.0, reps), (2.0, max(reps // 2, 10))):
                wins, by_rule = nulls.smaller_model(rng, Classifiers(interaction=interaction), n, seeds, gap)
                tag = f"{'own' if interaction else 'shared'}_n{seeds}_gap{gap}"
                results.add("calibration", f"smaller_wins_{tag}", wins)
                results.add("calibration", f"smaller_wins_by_rule_{tag}", by_rule)
                cells.append(f"{_rate(wins)} ({_rate(by_rule)})")
            rows.append([f"{'own hard items' if interaction else 'shared difficulty'}, {seeds} seeds"] + cells
                        + ["≤ 0.05 at 1 margin"])
    return table(["data", "smaller worse by 1 margin: wins (by the rule)", "by 2 margins", "target"], rows)


def test_set_cost(results: Results, rng, reps: int) -> str:
    """Table 6: retune's power at +1.5 seed SD with 10 seeds, and what the test-set term costs."""
    rows = []
    for ratio, label in ((0.0, "small test-set term (per-item noise only)"),
                         (1.0, "1,000 items, test-set SE = seed SE (ratio 1)"),
                         (3.0, "1,000 items, test-set SE = 3 x seed SE")):
        null = nulls.gaussian_retune(rng, reps, 10, 0.0, ratio)
        power = nulls.gaussian_retune(rng, max(reps // 2, 10), 10, 1.5, ratio)
        for kind, values in (("null", null), ("power", power)):
            for key, value in values.items():
                results.add("calibration", f"gaussian_{kind}_{key}_ratio{ratio}", value)
        rows.append([label, f"{_rate(null['rule'])} ({_rate(null['seeds'])})",
                     f"{_rate(power['rule'])} ({_rate(power['seeds'])})",
                     "≥ 0.80" if ratio == 0 else "(the cost)"])
    return table(["test set", "equal: promoted (seed-only)", "+1.5 seed SD: promoted (seed-only)",
                  "power target"], rows)


def racing(results: Results, rng, reps: int) -> str:
    rows = []
    for n in (3, 5, 10):
        new = racing_kill_rate(rng, max(reps // 10, 5), 20, n)
        old = old_racing_kill_rate(rng, max(reps // 10, 5), 20, n)
        results.add("calibration", f"racing_kill_equal_n{n}", new)
        results.add("calibration", f"racing_kill_equal_old_n{n}", old)
        rows.append([n, _rate(new), _rate(old)])
    return table(["seeds per trial", "equal trials stopped (now)", "before (vs incumbent, alpha per look)"], rows)


def intervals(results: Results, rng, reps: int) -> str:
    rows = []
    for n in (10, 30):
        for skewed in (False, True):
            t, pct = coverage(rng, max(reps // 5, 10), n, skewed)
            shape = "skewed" if skewed else "normal"
            results.add("calibration", f"coverage_bootstrap_t_n{n}_{shape}", t)
            results.add("calibration", f"coverage_percentile_n{n}_{shape}", pct)
            rows.append([n, shape, _rate(t), _rate(pct)])
    return table(["seeds", "differences", "bootstrap-t (ours)", "percentile"], rows)


def run(results: Results, reps: int = 2000, seed: int = 0) -> None:
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(seed)
    error = 1.96 * math.sqrt(ALPHA * (1 - ALPHA) / reps)
    parts = [
        f"Simulated on the project's own functions, called as the stages call them; {reps} repetitions per null "
        f"cell (simulation error ±{error:.3f} at a rate of 0.05; power cells and the 2-margin column use half). "
        f"Equivalence margin (min_effect, loss_margin) {MARGIN} on 0/1 item losses, as the accuracy problems "
        "declare.", NULLS,
        "**1. Configurations equal on new data** (0/1 item losses, accuracy 0.99, 1,000 fresh test items and "
        "1,000 validation items per repetition; item error probabilities from a Beta population of mean 0.01; "
        "a seed scales a configuration's probabilities by a lognormal factor, SD of its log 0.3, 60% shared by "
        "the configurations on that seed; the same factor on validation and test):",
        _timed("equal on new data", lambda: equal_on_new_data(results, rng, reps)),
        "**2. Forecasts: 'beats naive'** (`diebold_mariano`, squared error per one-step forecast, HLN; a "
        "stationary AR(1) stretch of 20 or 40 forecasts, unit innovations; horizon - 1 = 0 HAC lags):",
        _timed("forecasts", lambda: forecasts(results, rng, reps)),
        "**3. Ensemble rule** (`fixed_model_better` on the per-item losses of the ensemble and the single seed "
        "model, 1,000 items):", _timed("ensembles", lambda: ensembles(results, rng, reps)),
        "**4. A challenger that diverges on 15% of its seeds** (its mean is worse; item losses, margin "
        f"{MARGIN}):", _timed("divergence", lambda: divergence(results, rng, max(reps // 2, 10))),
        f"**5. The smaller-model rule** (`compare` with parameter counts and margin {MARGIN}; 2 candidates, "
        "the smaller one truly worse by 1 or 2 margins; 'by the rule': it wins although the bigger one was "
        "the best on validation, the rest is the selection on validation):",
        _timed("smaller model", lambda: smaller_model(results, rng, reps)),
        "**6. Retune's power and the test-set term** (Gaussian item losses in units of the SD of a seed's "
        "mean loss, 0.6 of it shared by the seed; one challenger, 10 seeds, margin 0.5 SD; each "
        "configuration's own item effects sized so that the test set's standard error of the difference is "
        "the stated multiple of the seeds'):", _timed("test-set cost", lambda: test_set_cost(results, rng, reps)),
        "**Racing** (per-seed scores, 20 equal trials per study; share of trials stopped; target ≤ 0.05):",
        _timed("racing", lambda: racing(results, rng, reps)),
        "**Interval coverage** (nominal 0.95, paired mean difference of per-seed scores):",
        _timed("intervals", lambda: intervals(results, rng, reps))]
    results.section("Calibration of the decision rules", "\n\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    run(Results(bench="calibration"), reps=args.reps)


if __name__ == "__main__":
    main()
