"""The data bench/calibration simulates, and each stage's call on it (the calls the stages make now).

Every null is a null about NEW data: the configurations (or the two fixed models) have the same expected
loss on items drawn fresh from the population and, where seeds vary, on seeds trained afresh. A rule that
calls one better or worse fires falsely; how often it does is the rate measured. Test items are drawn
fresh in every repetition, so a test that treats this one test set as the future shows it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reports.stats import (Items, Resampling, compare, decide_promotion, diebold_mariano, fixed_model_better,
                           significantly_better)

ALPHA = 0.05
MARGIN = 0.005  # the accuracy problems' equivalence margin (echo, addition, ...); the loss margin of 0/1 losses
NO_BOOT = Resampling(n_boot=0)  # intervals decide nothing: skipped


@dataclass(frozen=True)
class Classifiers:
    """Configurations scored on 0/1 item losses (accuracy 1 - `error`). Each item's error probability comes
    from a Beta population (mean `error`, concentration 4: most items easy, a few hard). With `interaction`
    every configuration draws its own (its own hard items), else they share one difficulty per item. A
    seed multiplies a configuration's probabilities by a lognormal factor of mean 1 (SD of its log
    `seed_sd`, a `seed_shared` part common to the configurations trained from that seed: paired seeds);
    each seed's outcome on each item is a Bernoulli draw. Validation items are other items than the test
    items; a seed's factor is the same on both (the same trained model)."""

    interaction: bool = True
    items: int = 1000
    error: float = 0.01
    concentration: float = 4.0
    seed_sd: float = 0.3
    seed_shared: float = 0.6

    def probabilities(self, rng: np.random.Generator, errors: np.ndarray) -> np.ndarray:
        """Per-item error probabilities (configurations x items), mean `errors[c]` each."""
        e, k = self.error, self.concentration
        if self.interaction:
            return rng.beta(errors[:, None] * k, (1 - errors[:, None]) * k, (len(errors), self.items))
        p = rng.beta(e * k, (1 - e) * k, self.items)[None, :]  # shared difficulty; a worse one errs more often
        return np.where(errors[:, None] >= e, 1 - (1 - p) * (1 - errors[:, None]) / (1 - e), p * errors[:, None] / e)

    def draw(self, rng: np.random.Generator, errors: list[float], seeds: int) -> tuple[np.ndarray, np.ndarray]:
        """(test, validation) 0/1 losses, configurations x seeds x items each; fresh items every call."""
        e = np.asarray(errors, float)
        s = self.seed_shared
        z = s * rng.standard_normal(seeds) + math.sqrt(1 - s * s) * rng.standard_normal((len(e), seeds))
        factor = np.exp(self.seed_sd * z - self.seed_sd ** 2 / 2)[:, :, None]
        out = []
        for _ in range(2):
            p = np.minimum(factor * self.probabilities(rng, e)[:, None, :], 1.0)
            out.append((rng.random(p.shape) < p).astype(float))
        return out[0], out[1]


def _names(k: int) -> list[str]:
    return [f"c{i}" for i in range(k)]


def equal_configurations(rng, world: Classifiers, reps: int, seeds: int) -> dict[str, float]:
    """Configurations equal on new data, each stage's rule, with the item losses and seed-only (the same
    call without items: one 'item' per seed). Report: 4 candidates chosen on validation; retune: 3
    challengers against the baseline; finalize: a refit winner (fresh seeds) against the champion."""
    fired = dict.fromkeys(["retune", "retune_seeds", "retune_test", "retune_test_seeds", "finalize", "finalize_seeds",
                           "finalize_test", "finalize_test_seeds", "report", "report_seeds"], 0)
    names = _names(4)
    for _ in range(reps):
        test, val = world.draw(rng, [world.error] * 5, seeds)
        scores = {n: 1 - test[i].mean(axis=1) for i, n in enumerate(names)}
        baseline = 1 - test[4].mean(axis=1)
        losses = {n: test[i] for i, n in enumerate(names)}
        selection = {n: 1 - val[i].mean(axis=1) for i, n in enumerate(names)}
        for key, items in (("report", Items(losses, loss_margin=MARGIN)), ("report_seeds", None)):
            result = compare(scores, "maximize", params=dict.fromkeys(names, 1000), alpha=ALPHA, margin=MARGIN,
                             items=items, selection=selection, resampling=NO_BOOT)
            fired[key] += any(p.significantly_worse for p in result.pairwise)
        challengers = {n: scores[n] for n in names[1:]}
        retune = Items({**{n: losses[n] for n in names[1:]}, "baseline": test[4]})
        promo = decide_promotion(challengers, baseline, "maximize", ALPHA, baseline_name="baseline", items=retune,
                                 min_effect=MARGIN)
        fired["retune"] += promo.better
        fired["retune_test"] += any(d.p_holm < ALPHA for d in promo.decisions)
        seeds_only = decide_promotion(challengers, baseline, "maximize", ALPHA, baseline_name="baseline",
                                      min_effect=MARGIN)
        fired["retune_seeds"] += seeds_only.better
        fired["retune_test_seeds"] += any(d.p_holm < ALPHA for d in seeds_only.decisions)
        final = Items({"winner": test[1], "champion": test[4]})
        decision = significantly_better(scores["c1"], baseline, "maximize", ALPHA, items=final,
                                        names=("winner", "champion"), min_effect=MARGIN)
        fired["finalize"] += decision.better
        fired["finalize_test"] += decision.p_value < ALPHA
        seeds_only = significantly_better(scores["c1"], baseline, "maximize", ALPHA, names=("winner", "champion"),
                                          min_effect=MARGIN)
        fired["finalize_seeds"] += seeds_only.better
        fired["finalize_test_seeds"] += seeds_only.p_value < ALPHA
    return {k: v / reps for k, v in fired.items()}


def smaller_model(rng, world: Classifiers, reps: int, seeds: int, gap_in_margins: float) -> tuple[float, float]:
    """(share of reports whose winner is a smaller model truly worse by gap x MARGIN, the share where the
    smaller-model rule put it there: shown within the margin of the best on validation, the bigger one):
    the report's call with the margin and parameter counts."""
    wins = by_rule = 0
    for _ in range(reps):
        test, val = world.draw(rng, [world.error, world.error + gap_in_margins * MARGIN], seeds)
        names = ("big", "small")
        result = compare({n: 1 - test[i].mean(axis=1) for i, n in enumerate(names)}, "maximize",
                         params={"big": 100_000, "small": 1_000}, alpha=ALPHA, margin=MARGIN,
                         items=Items({n: test[i] for i, n in enumerate(names)}, loss_margin=MARGIN),
                         selection={n: 1 - val[i].mean(axis=1) for i, n in enumerate(names)}, resampling=NO_BOOT)
        wins += result.winner == "small"
        by_rule += result.winner == "small" and result.best == "big"
    return wins / reps, by_rule / reps


def diverging(rng, world: Classifiers, reps: int, seeds: int, diverged: int, diverged_error: float,
              good_error: float = 0.005) -> tuple[float, float]:
    """(retune, finalize) promotion rates of a challenger better than the baseline on most seeds (error
    `good_error`) whose `diverged` seeds err at `diverged_error`: its mean is worse, it must never pass."""
    retune = final = 0
    for _ in range(reps):
        test, _ = world.draw(rng, [world.error, good_error, diverged_error], seeds)
        challenger = np.concatenate([test[1, diverged:], test[2, :diverged]])
        scores, baseline = 1 - challenger.mean(axis=1), 1 - test[0].mean(axis=1)
        retune += decide_promotion({"challenger": scores}, baseline, "maximize", ALPHA, baseline_name="baseline",
                                   items=Items({"challenger": challenger, "baseline": test[0]}),
                                   min_effect=MARGIN).better
        final += significantly_better(scores, baseline, "maximize", ALPHA,
                                      items=Items({"winner": challenger, "champion": test[0]}),
                                      names=("winner", "champion"), min_effect=MARGIN).better
    return retune / reps, final / reps


def gaussian_retune(rng, reps: int, seeds: int, shift: float, ratio: float, items: int = 1000,
                    margin: float = 0.5) -> dict[str, float]:
    """One challenger against the baseline on Gaussian item losses, in units of the SD of a seed's mean
    loss (0.6 shared by the seed, 0.8 its own): `shift` lower loss for the challenger; each configuration's
    own item effects sized so that the test set's standard error of the difference is `ratio` times the
    seeds' (0: only a small per-seed-and-item noise). (rule with min_effect `margin`; the test alone;
    seed-only rule)."""
    interaction = ratio * math.sqrt(0.64 * items / seeds)  # 2 s^2 / n = ratio^2 * 2 * 0.64 / S
    fired = dict.fromkeys(["rule", "test", "seeds"], 0)
    for _ in range(reps):
        seed = 0.6 * rng.standard_normal(seeds)
        loss = [(seed + 0.8 * rng.standard_normal(seeds) - s)[:, None]
                + interaction * rng.standard_normal(items) + rng.standard_normal((seeds, items))
                for s in (0.0, shift)]
        scores = [v.mean(axis=1) for v in loss]
        promo = decide_promotion({"challenger": scores[1]}, scores[0], "minimize", ALPHA, baseline_name="baseline",
                                 items=Items({"challenger": loss[1], "baseline": loss[0]}), min_effect=margin)
        fired["rule"] += promo.better
        fired["test"] += promo.decisions[0].p_holm < ALPHA
        fired["seeds"] += decide_promotion({"challenger": scores[1]}, scores[0], "minimize", ALPHA,
                                           baseline_name="baseline", min_effect=margin).better
    return {k: v / reps for k, v in fired.items()}


def ar1_windows(rng, reps: int, phi: float, steps: int) -> np.ndarray:
    """reps stretches of a stationary AR(1) series (unit innovations), steps + 1 values each: the last value
    before the test period, then the `steps` values to forecast one step ahead."""
    x = np.empty((reps, steps + 1))
    x[:, 0] = rng.standard_normal(reps) / math.sqrt(1 - phi * phi)
    for t in range(1, steps + 1):
        x[:, t] = phi * x[:, t - 1] + rng.standard_normal(reps)
    return x


def forecasts(rng, x: np.ndarray, phi: float, kind: str, seeds: int = 1) -> np.ndarray:
    """One-step forecasts of x[:, 1:] from x[:, :-1] by a model; the nulls are as good as the naive forecast
    (last value) in expected squared error. naive's excess over the optimum phi*x is d^2 V (d = 1 - phi,
    V = 1 / (1 - phi^2)). 'perturbed': naive plus the fixed perturbation -2d x, i.e. (2 phi - 1) x, naive
    mirrored about the optimum; 'noisy': the optimum plus the model's own errors of variance d^2 V;
    'seeds': the mean forecast of `seeds` seeds, each (c + a_s) x + w_{s,t} (a_s ~ N(0, (d/2)^2), w of
    variance d^2 V), c set so the mean forecast's excess is d^2 V in expectation over seeds; 'optimum':
    phi x (the power row: at phi 0.5 its MSE is 0.75 of naive's)."""
    last = x[:, :-1]
    d, v = 1 - phi, 1 / (1 - phi * phi)
    reps, steps = last.shape
    if kind == "perturbed":
        return (2 * phi - 1) * last
    if kind == "noisy":
        return phi * last + d * math.sqrt(v) * rng.standard_normal(last.shape)
    if kind == "optimum":
        return phi * last
    if kind == "seeds":
        c = phi - d * math.sqrt(1 - 1 / (4 * seeds) - 1 / seeds)
        coef = c + (d / 2) * rng.standard_normal((reps, seeds)).mean(axis=1, keepdims=True)
        noise = d * math.sqrt(v) * rng.standard_normal((reps, seeds, steps)).mean(axis=1)
        return coef * last + noise
    raise ValueError(kind)


def beats_naive(rng, reps: int, phi: float, steps: int, kind: str, seeds: int = 1) -> float:
    """Share of test periods where the model is said to beat the naive forecast (the forecast stage's call,
    `diebold_mariano`)."""
    x = ar1_windows(rng, reps, phi, steps)
    model = (x[:, 1:] - forecasts(rng, x, phi, kind, seeds)) ** 2
    naive = (x[:, 1:] - x[:, :-1]) ** 2
    return sum(diebold_mariano(m, b, horizon=1).better for m, b in zip(model, naive)) / reps


def ensemble_classification(rng, reps: int, better_by: float = 0.0, shared: float = 0.8, items: int = 1000,
                            error: float = 0.01, concentration: float = 4.0) -> float:
    """Share registered by the ensemble rule (McNemar) when the ensemble's error is `error - better_by`:
    items' difficulty from the Beta population, the single seed wrong when V < p, the ensemble when
    U < p * (error - better_by) / error, U = V on a `shared` share of items (the ensemble contains that
    seed: their mistakes coincide), else independent."""
    fired = 0
    for _ in range(reps):
        p = rng.beta(error * concentration, (1 - error) * concentration, items)
        v = rng.random(items)
        u = np.where(rng.random(items) < shared, v, rng.random(items))
        single, ensemble = (v < p).astype(float), (u < p * (error - better_by) / error).astype(float)
        fired += fixed_model_better(ensemble, single, ALPHA).better
    return fired / reps


def ensemble_regression(rng, reps: int, heavy: str = "ensemble", items: int = 1000, df: int = 5) -> float:
    """Share registered by the ensemble rule on per-item squared errors, equal in expectation: residual =
    an item's own difficulty (t with `df`, shared) + the model's error, N(0, 1) for one model and t(`df`)
    scaled to variance 1 for the other (`heavy`): skewed, heavy-tailed loss differences."""
    scale = math.sqrt((df - 2) / df)
    fired = 0
    for _ in range(reps):
        difficulty = rng.standard_t(df, items)
        light, heavy_err = rng.standard_normal(items), scale * rng.standard_t(df, items)
        a, b = (difficulty + heavy_err) ** 2, (difficulty + light) ** 2
        ens, single = (a, b) if heavy == "ensemble" else (b, a)
        fired += fixed_model_better(ens, single, ALPHA).better
    return fired / reps
