"""Train one configuration with one seed: NaN guard, early stopping, per-epoch validation score."""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from pipeline.architectures import build_model, resolve
from pipeline.architectures.common import learning_rate_at
from pipeline.errors import NonFiniteLoss
from pipeline.training.seeding import seed_everything

tf.get_logger().setLevel("ERROR")  # per-model retracing notices are expected: one model per seed

Arrays = tuple[np.ndarray, np.ndarray]
EpochHook = Callable[[int, float], None]


@dataclass
class SeedRun:
    """The outcome of training one configuration with one seed."""

    seed: int
    score: float | None  # primary metric on the validation data (best weights restored)
    metrics: dict[str, float]  # every validation metric
    history: dict[str, list[float]]  # per epoch: loss, val_loss, val_<metric>
    epochs: int  # epochs actually run
    best_epoch: int  # 1-based epoch of the lowest validation loss (the weights kept)
    n_params: int
    fit_seconds: float  # a fused run's share: the towers' fit time divided by their number
    towers: int = 1  # seeds trained together as fused towers (1 = on its own)
    model: keras.Model | None = field(default=None, repr=False)
    failure: str | None = None  # why the run diverged (train_seeds with record_failures); no scores then

    @classmethod
    def diverged(cls, seed: int, reason: str) -> SeedRun:
        """A seed run whose loss diverged: no score, no model, the reason kept."""
        return cls(seed, None, {}, {"loss": []}, 0, 0, 0, 0.0, failure=reason)


@dataclass(frozen=True)
class TrainOptions:
    """How seed runs train, beyond their configuration and data (train_one and train_seeds)."""

    keep_models: bool = False  # keep each run's fitted model (SeedRun.model)
    initial_weights: list[np.ndarray] | None = field(default=None, repr=False, compare=False)  # continue a model
    fuse: bool = True  # train_seeds: train the seeds as fused towers where the model allows
    record_failures: bool = False  # train_seeds: a diverging seed becomes a SeedRun.diverged, the others go on


class _EpochMonitor(keras.callbacks.Callback):
    """Stops on a non-finite loss; scores the validation data each epoch and calls the hook."""

    def __init__(self, problem, val: Arrays | None, hook: EpochHook | None) -> None:
        super().__init__()
        self.problem, self.val, self.hook = problem, val, hook
        self.curve: list[float] = []
        self.nonfinite: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        for key in ("loss", "val_loss"):
            value = logs.get(key)
            if value is not None and not math.isfinite(value):
                self.nonfinite = f"{key} became {value} at epoch {epoch + 1}"
                self.model.stop_training = True
                return
        if self.val is None:
            return
        pred = self.model.predict(self.val[0], batch_size=512, verbose=0)
        if not np.all(np.isfinite(pred)):
            self.nonfinite = f"predictions became non-finite at epoch {epoch + 1}"
            self.model.stop_training = True
            return
        value = self.problem.scores(self.val[1], pred)[self.problem.metric]
        self.curve.append(float(value))
        if self.hook is not None:
            self.hook(epoch, float(value))


def build_training_state(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    """Create the optimizer's and the metrics' variables of a compiled model before `fit`.

    Keras otherwise creates them while it traces the training step, and TensorFlow then traces the
    step a second time; building them first (as Keras does under a distribution strategy) saves that.
    """
    build = getattr(model, "_symbolic_build", None)  # Keras's own step; absent in other versions: traced twice
    if build is not None:
        build(data_batch=(x[:1], y[:1], None))


def train_one(problem, architecture: str, hp: dict[str, Any], seed: int, train: Arrays,
              val: Arrays | None = None, on_epoch: EpochHook | None = None,
              options: TrainOptions = TrainOptions()) -> SeedRun:
    """Build, fit and score one configuration with one seed.

    With validation data: early stopping on validation loss (patience from hp, best weights
    restored) and a validation score per epoch passed to `on_epoch` (which may raise to prune).
    Without: a fixed number of epochs (used to refit a final model on all data).
    `options.initial_weights` (from a model of the same configuration) continues training it;
    `options.keep_models` keeps the fitted model (options.fuse and record_failures concern train_seeds).
    Raises NonFiniteLoss when the loss or the predictions become NaN or infinite.
    """
    hp = resolve(hp)
    keras.backend.clear_session(free_memory=False)
    gc.collect()
    seed_everything(seed)
    model = build_model(architecture, problem, hp)
    if options.initial_weights is not None:
        model.set_weights(options.initial_weights)
    build_training_state(model, train[0], train[1])
    monitor = _EpochMonitor(problem, val, on_epoch)
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN(), monitor]
    if hp["lr_schedule"] != "constant":
        callbacks.insert(0, keras.callbacks.LearningRateScheduler(lambda epoch, _: learning_rate_at(hp, epoch)))
    if val is not None and hp["patience"] > 0:
        callbacks.insert(0, keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp["patience"],
                                                          restore_best_weights=True))
    start = time.perf_counter()
    history = model.fit(train[0], train[1], batch_size=hp["batch_size"], epochs=hp["epochs"],
                        validation_data=val, callbacks=callbacks, shuffle=True, verbose=0)
    fit_seconds = time.perf_counter() - start
    if monitor.nonfinite:
        raise NonFiniteLoss(monitor.nonfinite)
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    metrics: dict[str, float] = {}
    score = None
    if val is not None:
        curves[f"val_{problem.metric}"] = monitor.curve
        metrics = problem.evaluate(model, val[0], val[1])
        score = float(metrics[problem.metric])
        if not math.isfinite(score):
            raise NonFiniteLoss(f"validation {problem.metric} is {score}")
    val_loss = curves.get("val_loss") or curves["loss"]
    return SeedRun(seed=seed, score=score, metrics=metrics, history=curves, epochs=len(curves["loss"]),
                   best_epoch=int(np.argmin(val_loss)) + 1, n_params=int(model.count_params()),
                   fit_seconds=fit_seconds, model=model if options.keep_models else None)
