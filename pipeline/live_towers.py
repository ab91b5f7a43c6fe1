"""The fused model of the towers still training, rebuilt without the others once enough have stopped.

pipeline.fused trains many towers as one model (pipeline.towers). A tower that has stopped (its trial
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

from pipeline.architectures.common import learning_rate_at, optimizer
from pipeline.problems.base import Problem
from pipeline.tower_settings import TowerRates
from pipeline.towers import Towers
from pipeline.training import build_training_state

STEPS_PER_EXECUTION = 1  # bench/ measured 1 and 16 batches per compiled call within 4% at tuning sizes
PREDICT_BATCH = 512
GATHER_LIMIT = 256 * 2**20  # bytes: a larger epoch of every tower's samples is gathered batch by batch
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


class _Batches(keras.utils.PyDataset):
    """The batches of an epoch gathered one at a time (videos x towers would not fit in memory at once):
    batch i is the samples columns[i * size:(i + 1) * size], as fit(x[columns], shuffle=False) takes them."""

    def __init__(self, x: np.ndarray, y: np.ndarray, columns: np.ndarray, size: int) -> None:
        super().__init__()
        self.x, self.y, self.columns, self.size = x, y, columns, size

    def __len__(self) -> int:
        return -(-len(self.columns) // self.size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.columns[i * self.size:(i + 1) * self.size]
        return self.x[rows], self.y[rows]


def worth_rebuilding(stopped: int, towers: int, epochs_left: int) -> bool:
    """The rule: rebuild when at least a third of the model's towers have stopped and two or more epochs
    remain (a rebuild traces a new step, a few seconds; a stopped tower costs about its share of every
    later epoch)."""
    return stopped > 0 and 3 * stopped >= towers and epochs_left >= 2


class _TowerLosses(keras.metrics.Metric):
    """Every tower's mean training loss over the epoch, from one op for all towers (logs loss_0, loss_1, ...)."""

    def __init__(self, problem: Problem, towers: int) -> None:
        super().__init__(name="tower_losses")
        self.base, self.towers = keras.losses.get(problem.loss), towers
        self.total = self.add_variable(shape=(towers,), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        per_sample = keras.ops.moveaxis(self.base(y_true, y_pred), 1, 0)  # (towers, batch, ...)
        batch = keras.ops.cast(keras.ops.shape(y_true)[0], "float32")
        means = keras.ops.mean(keras.ops.reshape(per_sample, (self.towers, -1)), axis=1)
        self.total.assign_add(means * batch)
        self.count.assign_add(batch)

    def result(self):
        values = self.total / keras.ops.maximum(self.count, 1.0)
        return {f"loss_{s}": values[s] for s in range(self.towers)}

    def reset_state(self) -> None:
        self.total.assign(keras.ops.zeros((self.towers,)))
        self.count.assign(0.0)


def _summed_loss(problem: Problem, towers: int):
    """The sum over towers of each tower's mean loss: every tower gets exactly its own gradient."""
    base = keras.losses.get(problem.loss)

    def loss(y_true, y_pred):
        return towers * base(y_true, y_pred)
    return loss


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
        self.model.compile(optimizer=self.optimizer, loss=_summed_loss(self.problem, n),
                           metrics=[_TowerLosses(self.problem, n)], steps_per_execution=STEPS_PER_EXECUTION)
        x, y = self.sample
        build_training_state(self.model, np.repeat(x[:1, None], n, axis=1), np.repeat(y[:1, None], n, axis=1))
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
        """One epoch; index (N, towers of the first model) orders each tower's samples. Each live tower's
        mean training loss."""
        columns, size = index[:, self.live], self.hp["batch_size"]
        if x[:1].nbytes * columns.size > GATHER_LIMIT:
            logs = self.model.fit(_Batches(x, y, columns, size), epochs=1, shuffle=False, verbose=0).history
        else:
            logs = self.model.fit(x[columns], y[columns], batch_size=size, epochs=1, shuffle=False, verbose=0).history
        return {t: logs[f"loss_{i}"][0] for i, t in enumerate(self.live)}

    def predict(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """Each live tower's predictions for x."""
        n = len(self.live)
        rows = len(x) if x.nbytes * n <= GATHER_LIMIT else max(1, GATHER_LIMIT // (x[:1].nbytes * n))  # at a time
        pred = np.concatenate([self.model.predict(np.repeat(x[i:i + rows, None], n, axis=1),
                                                  batch_size=self.predict_batch, verbose=0)
                                for i in range(0, len(x), rows)])
        return {t: pred[:, i] for i, t in enumerate(self.live)}

    def snapshot(self, t: int) -> list[list[np.ndarray]]:
        return self.towers.snapshot(self.position[t])

    def regularization(self, t: int) -> float:
        return self.towers.regularization(self.position[t])

    def write(self, snapshot: list[list[np.ndarray]], plain: keras.Model) -> keras.Model:
        return self.towers.write(snapshot, plain)


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
