"""The final model as a seed ensemble: K refits of one configuration, each with its own seed, averaged into
one plain Keras model, scored on the test set beside each single seed model; and the rule that registers
the ensemble instead of a single seed.

The ensemble's output is the mean of its members' outputs: probabilities for softmax and sigmoid heads,
values for linear ones, so every problem's decoder, `predict_raw` and `evaluate` (also those that run the
model themselves, e.g. shape_generation feeding predictions back) take it as they take one model."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import keras
import numpy as np

from pipeline.errors import NonFiniteLoss
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.problems import Problem, Splits
from reports.stats import fixed_model_better, fmt

MEMBER_PREFIX = "seed_"  # an ensemble member's name: seed_<seed>


def ensemble_model(models: list[keras.Model], seeds: list[int]) -> keras.Model:
    """One Keras model whose output is the mean of the models' outputs (models of one configuration).

    Members are uncompiled copies named after their seeds, nested as plain models rather than fused towers:
    every architecture nests (also those that do not fuse), and the saved file needs no custom layer."""
    first = models[0].inputs[0]
    inputs = keras.Input(shape=first.shape[1:], dtype=first.dtype, name="x")
    outputs = []
    for model, seed in zip(models, seeds):
        member = keras.models.clone_model(model)
        member.set_weights(model.get_weights())
        member.name = f"{MEMBER_PREFIX}{seed}"
        outputs.append(member(inputs))
    return keras.Model(inputs, keras.layers.Average(name="mean")(outputs), name=f"ensemble_of_{len(models)}")


def members(model: keras.Model) -> list[keras.Model]:
    """An ensemble's seed models, in order; [model] for a single model."""
    found = [layer for layer in model.layers
             if isinstance(layer, keras.Model) and layer.name.startswith(MEMBER_PREFIX)]
    return found or [model]


@dataclass(frozen=True)
class EnsembleChoice:
    """The final refit's test scores side by side, and which model was registered, by which rule."""

    metric: str
    seeds: list[int]  # seeds whose refit finished, in order
    seed_scores: list[float]  # each single seed model's test score
    ensemble_score: float | None  # None with fewer than 2 finished seeds
    registered_ensemble: bool
    rule: str
    p_value: float | None = None

    @property
    def single_seed(self) -> int:
        """The single seed model registered when the ensemble is not: the first seed, fixed before any
        test score is seen (never the best seed on the test set)."""
        return self.seeds[0]

    @property
    def single_score(self) -> float:
        return self.seed_scores[0]

    @property
    def kind(self) -> str:
        return f"ensemble of {len(self.seeds)} seeds" if self.registered_ensemble else f"single seed {self.single_seed}"

    @property
    def score(self) -> float:
        """The registered model's own test score."""
        return float(self.ensemble_score if self.registered_ensemble else self.single_score)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows): single seed models (mean ± std, the single seed) beside the ensemble."""
        scores = np.asarray(self.seed_scores, float)
        spread = f" ± {fmt(scores.std(ddof=1))}" if len(scores) > 1 else ""
        rows = [[f"single seed, mean over {len(scores)} seeds", f"{fmt(scores.mean())}{spread}",
                 ", ".join(fmt(s) for s in scores), ""],
                [f"single seed {self.single_seed}", fmt(self.single_score), "", "" if self.registered_ensemble
                 else "yes"],
                [f"ensemble of {len(scores)} seeds (mean output)", fmt(self.ensemble_score), "",
                 "yes" if self.registered_ensemble else ""]]
        return ["model", f"test {self.metric}", "each seed", "registered"], rows


def item_losses(problem: Problem, model: keras.Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The model's loss on each test item, in the problem's own metric (Problem.item_losses)."""
    return problem.item_losses(y, model.predict(x, batch_size=512, verbose=0))


@dataclass(frozen=True)
class Rivals:
    """The ensemble's and the single seed model's test scores and per-item losses on the same items, and
    whether the items are consecutive forecasts (a HAC variance over them)."""

    ensemble_score: float
    ensemble_losses: np.ndarray
    single_losses: np.ndarray
    time_steps: bool = False
    horizon: int = 1


def choose(seeds: list[int], seed_scores: list[float], metric: str, rivals: Rivals | None = None,
           alpha: float = 0.05) -> EnsembleChoice:
    """Register the ensemble only when it beats the single seed model it would replace on the same test
    items: two fixed models, so only the items vary (reports.stats.fixed_model_better: McNemar's exact test
    on the discordant items when each is right or wrong, else a paired test of the per-item loss, the
    squared error for RMSE, HAC over consecutive forecasts). It costs K times as much to serve."""
    single = f"single seed {seeds[0]} registered"
    if rivals is None:
        return EnsembleChoice(metric, seeds, seed_scores, None, False,
                              f"{single}: one seed refit (ensemble size 1, or the others diverged)")
    evidence = fixed_model_better(rivals.ensemble_losses, rivals.single_losses, alpha, rivals.time_steps,
                                  rivals.horizon)
    k = len(seeds)
    claim = evidence.sentence(f"the ensemble of {k} seeds (test {metric} {fmt(rivals.ensemble_score)})",
                              f"single seed {seeds[0]}'s model ({fmt(seed_scores[0])})", alpha)
    rule = (f"ensemble of {k} seeds registered: {claim}" if evidence.better
            else f"{single}: {claim}; one model costs 1/{k} to serve")
    return EnsembleChoice(metric, seeds, seed_scores, float(rivals.ensemble_score), evidence.better, rule,
                          evidence.p_value)


def refit(problem: Problem, architecture: str, hp: dict[str, Any], seeds: list[int], splits: Splits,
          alpha: float = 0.05, fuse: bool = True) -> tuple[keras.Model, EnsembleChoice]:
    """Refit the configuration with each seed on train + validation (fused towers where the model allows),
    score every seed model and their ensemble on the test set; the model `choose` registers, and the choice.
    A seed that diverges is left out (said in the rule); NonFiniteLoss when every seed diverges."""
    runs = train_seeds(problem, architecture, hp, seeds, splits.train_plus_validation(),
                       options=TrainOptions(keep_models=True, fuse=fuse, record_failures=True))
    done = [r for r in runs if not r.failure]
    failed = [f"seed {r.seed}: {r.failure}" for r in runs if r.failure]
    if not done:
        raise NonFiniteLoss("every seed of the final refit diverged (" + "; ".join(failed) + ")")

    test = (splits.x_test, splits.y_test)

    def score(model: keras.Model) -> float:
        return float(problem.evaluate(model, *test)[problem.metric])

    kept = [r.seed for r in done]
    ensemble = ensemble_model([r.model for r in done], kept) if len(done) > 1 else None
    rivals = None if ensemble is None else Rivals(
        score(ensemble), item_losses(problem, ensemble, *test), item_losses(problem, done[0].model, *test),
        problem.forecasts, int(problem.params.get("horizon", 1)))
    choice = choose(kept, [score(r.model) for r in done], problem.metric, rivals, alpha)
    if failed:
        choice = replace(choice, rule=f"{choice.rule}; left out: {'; '.join(failed)}")
    return (ensemble if choice.registered_ensemble else done[0].model), choice
