"""The fused model of the towers still training, rebuilt without the others once enough have stopped.

pipeline.training.towers.fused trains many towers as one model (pipeline.training.towers.model). A tower that has stopped (its trial
pruned or failed, its seed stopped early) keeps costing a step's share until it leaves the model:
with trial batches and successive halving most towers stop at the first rung. `LiveTowers.keep` rebuilds the
model for the towers that go on, carrying over each one's weights and optimizer state (moments and
step count), so that a kept tower trains on exactly as it would have in the wider model. Towers are
named by their index in the first model throughout.
"""
from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.architectures.common import learning_rate_at, optimizer
from pipeline.training.towers.lstm_recurrence import release_gradients
from pipeline.problems.base import Problem
from pipeline.training.towers.per_tower import TowerRates
from pipeline.training.towers.model import Towers

PREDICT_BATCH = 512
STEP_MEMORY = 6 * 2**30  # bytes of activations one fused training step (or prediction batch) may hold
ACTIVATIONS_HELD = 4  # measured on cnn_lstm: a training step holds about 4x its layer outputs


def output_bytes(plain: keras.Model) -> int:
    """Bytes of every layer's outputs for one sample (float32)."""
    return 4 * sum(math.prod(d or 1 for d in t.shape[1:]) for layer in plain.layers[1:]
                   for t in keras.tree.flatten(layer.output))


def towers_that_fit(plain: keras.Model, batch_size: int) -> int:
    """How many towers of `plain` one training step may hold in STEP_MEMORY (at least 1). Only video-sized
    layer outputs make this small: 6 towers of a CNN-LSTM with 8 filters at batch 64 peaked at 8.8 GB."""
    return max(1, STEP_MEMORY // (ACTIVATIONS_HELD * output_bytes(plain) * batch_size))


def worth_rebuilding(stopped: int, towers: int, epochs_left: int) -> bool:
    """The rule: rebuild when at least a third of the model's towers have stopped and two or more epochs
    remain (a rebuild traces a new step, a few seconds; a stopped tower costs about its share of every
    later epoch)."""
    return stopped > 0 and 3 * stopped >= towers and epochs_left >= 2


class LiveTowers:
    """The compiled fused model of the towers in `live`: tower t is plains[t], trained with hps[t]'s learning
    rate and schedule; the first hp gives the shared structure (optimizer class, batch size)."""

    def __init__(self, problem: Problem, plains: list[keras.Model], hps: list[dict[str, Any]],
                 sample: tuple[np.ndarray, np.ndarray]) -> None:
        self.problem, self.plains, self.hps, self.sample = problem, plains, hps, sample
        self.hp = hps[0]  # the shared structure
        self.live = list(range(len(plains)))
        self.frozen: set[int] = set()
        self.epoch = 0
        self._build()

    def _build(self) -> None:
        n = len(self.live)
        self.towers = Towers([self.plains[t] for t in self.live])
        self.model = self.towers.model
        self.optimizer = optimizer(self.hp)
        self.rates = TowerRates(self.optimizer, self._rates())
        self.optimizer.build(self.model.trainable_variables)
        x, y = self.sample
        inputs = tf.TensorSpec((None, n, *x.shape[1:]), _dtype(x))
        self._step = _training_step(self.model, self.optimizer, keras.losses.get(self.problem.loss),
                                    inputs, tf.TensorSpec((None, n, *y.shape[1:]), _dtype(y)))
        self._forward = tf.function(lambda x: self.model(x, training=False), input_signature=[inputs])
        self.position = {t: i for i, t in enumerate(self.live)}
        self.predict_batch = min(PREDICT_BATCH, towers_that_fit(self.plains[0], 1) // n or 1)  # as much as a step

    def keep(self, towers: list[int]) -> None:
        """Rebuild the model for these towers (a subset of `live`, none frozen), each carrying on where it is."""
        old_live, old_towers, old_optimizer = self.live, self.towers, self.optimizer
        rows = [old_live.index(t) for t in towers]
        self.live = list(towers)
        self._build()
        self.towers.restore([old_towers.snapshot(i) for i in rows])
        _carry_optimizer_state(old_optimizer, self.optimizer, len(old_live), rows)

    def _rates(self) -> list[float]:
        """Each live tower's learning rate at this epoch (its schedule's), 0 once frozen."""
        return [0.0 if t in self.frozen else learning_rate_at(self.hps[t], self.epoch) for t in self.live]

    def start_epoch(self, epoch: int) -> None:
        """Set every live tower's learning rate to its schedule's rate at `epoch`."""
        self.epoch = epoch
        self.rates.assign(self._rates())

    def freeze(self, t: int) -> None:
        """Tower t stops updating (it stays in the model until the next rebuild); a tower that already
        left the model needs nothing."""
        self.frozen.add(t)
        if t in self.position:
            self.rates.assign(self._rates())

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, index: np.ndarray) -> dict[int, float]:
        """One epoch; index (N, towers of the first model) orders each tower's samples, batch i being rows
        index[i * size:(i + 1) * size] (the last may be shorter, as in `fit`). Each live tower's mean
        training loss."""
        columns, size = index[:, self.live], self.hp["batch_size"]
        totals = [self._step(x[rows], y[rows]) * len(rows)
                  for rows in (columns[i:i + size] for i in range(0, len(columns), size))]
        means = np.sum(totals, axis=0) / len(columns)
        return {t: float(means[i]) for i, t in enumerate(self.live)}

    def predict(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """Each live tower's predictions for x."""
        n = len(self.live)
        pred = np.concatenate([self._forward(np.repeat(x[i:i + self.predict_batch, None], n, axis=1)).numpy()
                               for i in range(0, len(x), self.predict_batch)])
        return {t: pred[:, i] for i, t in enumerate(self.live)}

    def snapshot(self, t: int) -> list[list[np.ndarray]]:
        return self.towers.snapshot(self.position[t])

    def regularization(self, t: int) -> float:
        return self.towers.regularization(self.position[t])

    def write(self, snapshot: list[list[np.ndarray]], plain: keras.Model) -> keras.Model:
        return self.towers.write(snapshot, plain)


def _dtype(array: np.ndarray) -> tf.DType:
    """The dtype a batch of `array` enters the model with (floats as float32, as `fit` casts them)."""
    return tf.float32 if np.issubdtype(array.dtype, np.floating) else tf.as_dtype(array.dtype)


def _training_step(model: keras.Model, opt: keras.optimizers.Optimizer, loss: Any, inputs: tf.TensorSpec,
                   targets: tf.TensorSpec):
    """One compiled training step on a batch (B, towers, ...), what Keras's `fit` step does for this model
    and loss: every tower's mean loss, their sum plus the L1/L2 penalties as the loss (so each tower gets
    exactly its own gradient), one optimizer update. It returns the towers' mean losses. Called batch by
    batch from Python, without `fit`'s data adapter, callbacks and metrics (docs/architecture.md, "Training speed")."""
    @tf.function(input_signature=[inputs, targets])
    def step(x, y):
        with tf.GradientTape() as tape:
            per_sample = loss(y, model(x, training=True))  # (B, towers, ...)
            means = tf.reduce_mean(tf.reshape(tf.experimental.numpy.moveaxis(per_sample, 1, 0),
                                              (inputs.shape[1], -1)), axis=1)
            total = tf.reduce_sum(means) + (tf.add_n(model.losses) if model.losses else 0.0)
        opt.apply_gradients(zip(tape.gradient(total, model.trainable_variables), model.trainable_variables))
        return means
    step.get_concrete_function()  # traced now, backward pass included
    release_gradients()
    return lambda x, y: step(x, y).numpy()


def _carry_optimizer_state(old: keras.optimizers.Optimizer, new: keras.optimizers.Optimizer, towers: int,
                           rows: list[int]) -> None:
    """Copy old's variables into new's, keeping the tower rows `rows` of every tower-first variable (a
    variable of k * towers rows, as a Bidirectional layer's, keeps the same rows of each of its k blocks)."""
    if len(old.variables) != len(new.variables):
        raise RuntimeError(f"optimizer state does not carry over: {len(old.variables)} vs {len(new.variables)} "
                           "variables")
    for source, target in zip(old.variables, new.variables):
        value = np.asarray(source.numpy())
        if tuple(value.shape) != tuple(target.shape):
            blocks = value.shape[0] // towers
            value = value[[b * towers + r for b in range(blocks) for r in rows]]
        target.assign(value)
