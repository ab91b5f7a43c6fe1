"""Train one configuration over several seeds: all at once as fused seed towers where the model
allows it (pipeline.towers), otherwise one seed after another with `train_one`.

Either way each seed is a genuine independent run: its own initialization (the plain model built
under its seed), its own shuffled batches, its own early stopping and best weights, its own
history and scores. Listeners see the same events in both modes.
"""
from __future__ import annotations

import gc
import math
import time
from typing import Any, Sequence

import keras
import numpy as np

from pipeline.architectures import build_model, resolve
from pipeline.architectures.common import optimizer
from pipeline.errors import NonFiniteLoss
from pipeline.problems.base import Problem
from pipeline.seeding import seed_everything
from pipeline.towers import Towers, Unfusable
from pipeline.training import Arrays, SeedRun, build_training_state, train_one

# Batches per call into the compiled step. More saves Python round trips per step but traces the step
# twice (a loop and a remainder); bench/ measures 1 and 16 within 4% of each other at tuning sizes.
STEPS_PER_EXECUTION = 1
PREDICT_BATCH = 512


class SeedListener:
    """Hooks into training over seeds; any hook may raise (e.g. optuna.TrialPruned) to stop."""

    def started(self, seeds: list[int]) -> None:
        """Training of these seeds begins (one seed, or every tower of a fused model)."""

    def epoch(self, seed_index: int, epoch: int, values: list[float]) -> None:
        """Validation scores at `epoch` of every seed run so far; seed_index is the last one's position."""

    def finished(self, index: int, run: SeedRun) -> None:
        """Seed `index` is done."""


class Listeners(SeedListener):
    """Several listeners as one, each hook called on each in order (an earlier one sees an event
    before a later one may stop training on it)."""

    def __init__(self, *listeners: SeedListener) -> None:
        self.listeners = listeners

    def started(self, seeds: list[int]) -> None:
        for listener in self.listeners:
            listener.started(seeds)

    def epoch(self, seed_index: int, epoch: int, values: list[float]) -> None:
        for listener in self.listeners:
            listener.epoch(seed_index, epoch, values)

    def finished(self, index: int, run: SeedRun) -> None:
        for listener in self.listeners:
            listener.finished(index, run)


def train_seeds(problem: Problem, architecture: str, hp: dict[str, Any], seeds: Sequence[int], train: Arrays,
                val: Arrays | None = None, listener: SeedListener | None = None, keep_models: bool = False,
                fuse: bool = True, initial_weights: list[np.ndarray] | None = None,
                record_failures: bool = False) -> list[SeedRun]:
    """One SeedRun per seed, in order; fused towers when `fuse` and the model allows, else sequential.

    A diverging seed (NonFiniteLoss) stops training, unless `record_failures`: then it becomes a
    SeedRun.diverged with its reason and the other seeds go on (fused towers are retrained seed by seed
    to find it)."""
    listener = listener or SeedListener()
    seeds = list(seeds)
    if fuse and len(seeds) > 1:
        try:
            return _train_fused(problem, architecture, hp, seeds, train, val, listener, keep_models,
                                initial_weights)
        except Unfusable:
            pass
        except NonFiniteLoss:
            if not record_failures:
                raise
    runs: list[SeedRun] = []
    for index, seed in enumerate(seeds):
        listener.started([seed])

        def hook(epoch: int, value: float, index: int = index) -> None:
            earlier = [_at(r.history, problem.metric, epoch) for r in runs if not r.failure]
            listener.epoch(index, epoch, earlier + [value])

        try:
            run = train_one(problem, architecture, hp, seed, train, val, on_epoch=hook, keep_model=keep_models,
                            initial_weights=initial_weights)
        except NonFiniteLoss as exc:
            if not record_failures:
                raise
            run = SeedRun.diverged(seed, str(exc))
        runs.append(run)
        listener.finished(index, run)
    return runs


def _at(history: dict[str, list[float]], metric: str, epoch: int) -> float:
    """A finished run's validation score at `epoch`, or at its last epoch when it stopped earlier."""
    curve = history[f"val_{metric}"]
    return curve[min(epoch, len(curve) - 1)]


class _Tower:
    """Early-stopping bookkeeping of one tower."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.history: dict[str, list[float]] = {"loss": []}
        self.best_loss, self.wait = math.inf, 0
        self.best_metrics: dict[str, float] = {}
        self.best_weights: list[list[np.ndarray]] | None = None
        self.stopped = False


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


def _train_fused(problem: Problem, architecture: str, hp: dict[str, Any], seeds: list[int], train: Arrays,
                 val: Arrays | None, listener: SeedListener, keep_models: bool,
                 initial_weights: list[np.ndarray] | None) -> list[SeedRun]:
    if type(problem).evaluate is not Problem.evaluate:
        raise Unfusable(f"problem '{problem.name}' scores by running the model itself")
    hp = resolve(hp)
    n = len(seeds)
    keras.backend.clear_session(free_memory=False)
    gc.collect()
    plains = []
    for seed in seeds:  # each tower starts exactly where the sequential run of its seed starts
        seed_everything(seed)
        plains.append(build_model(architecture, problem, hp))
        if initial_weights is not None:
            plains[-1].set_weights(initial_weights)
    towers = Towers(plains[0], n)
    towers.load(plains)
    model = towers.model
    model.compile(optimizer=optimizer(hp), loss=_summed_loss(problem, n),
                  metrics=[_TowerLosses(problem, n)],
                  steps_per_execution=STEPS_PER_EXECUTION)
    build_training_state(model, np.repeat(train[0][:1, None], n, axis=1), np.repeat(train[1][:1, None], n, axis=1))
    seed_everything(seeds[0])
    orders = [np.random.default_rng([seed, 1]) for seed in seeds]  # each tower its own shuffling
    x_val_tiled = np.repeat(val[0][:, None], n, axis=1) if val is not None else None
    state = [_Tower(seed) for seed in seeds]
    metric = problem.metric
    listener.started(seeds)
    fit_seconds = 0.0
    for epoch in range(hp["epochs"]):
        index = np.stack([rng.permutation(len(train[0])) for rng in orders], axis=1)  # (N, towers)
        start = time.perf_counter()
        logs = model.fit(train[0][index], train[1][index], batch_size=hp["batch_size"], epochs=1, shuffle=False,
                         verbose=0).history
        fit_seconds += time.perf_counter() - start
        for s, tower in enumerate(state):  # a stopped tower trains on (its weights are restored at the end)
            if tower.stopped:
                continue
            value = logs[f"loss_{s}"][0]
            if not math.isfinite(value):
                raise NonFiniteLoss(f"loss became {value} at epoch {epoch + 1} (seed {tower.seed})")
            tower.history["loss"].append(float(value))
        if val is None:
            continue
        pred = model.predict(x_val_tiled, batch_size=PREDICT_BATCH, verbose=0)
        for s, tower in enumerate(state):
            if tower.stopped:
                continue
            _score_epoch(problem, towers, s, tower, val[1], pred[:, s], epoch, hp["patience"])
        listener.epoch(n - 1, epoch, [_at(t.history, metric, epoch) for t in state])
        if all(t.stopped for t in state):
            break
    if val is not None:
        towers.restore([t.best_weights for t in state])
    runs = []
    for s, tower in enumerate(state):
        val_loss = tower.history.get("val_loss") or tower.history["loss"]
        runs.append(SeedRun(
            seed=tower.seed, score=tower.best_metrics.get(metric) if val is not None else None,
            metrics=tower.best_metrics, history=tower.history, epochs=len(tower.history["loss"]),
            best_epoch=int(np.argmin(val_loss)) + 1, n_params=int(plains[0].count_params()),
            fit_seconds=fit_seconds / n, towers=n, model=towers.export(s, plains[s]) if keep_models else None))
    for index, run in enumerate(runs):
        listener.finished(index, run)
    return runs


def _score_epoch(problem: Problem, towers: Towers, s: int, tower: _Tower, y_val: np.ndarray, pred: np.ndarray,
                 epoch: int, patience: int) -> None:
    """Tower s's validation loss and scores at this epoch; keep its best weights; stop it when patient."""
    if not np.all(np.isfinite(pred)):
        raise NonFiniteLoss(f"predictions became non-finite at epoch {epoch + 1} (seed {tower.seed})")
    val_loss = float(np.mean(keras.losses.get(problem.loss)(y_val, pred))) + towers.regularization(s)
    scores = problem.scores(y_val, pred)
    if not math.isfinite(val_loss) or not math.isfinite(scores[problem.metric]):
        raise NonFiniteLoss(f"validation loss became {val_loss} at epoch {epoch + 1} (seed {tower.seed})")
    tower.history.setdefault("val_loss", []).append(val_loss)
    tower.history.setdefault(f"val_{problem.metric}", []).append(float(scores[problem.metric]))
    # Without early stopping (patience 0) the last epoch's weights are kept, as train_one keeps them.
    if patience == 0 or tower.best_weights is None or val_loss < tower.best_loss:
        tower.best_loss, tower.wait = val_loss, 0
        tower.best_metrics = {k: float(v) for k, v in scores.items()}
        tower.best_weights = towers.snapshot(s)
    else:
        tower.wait += 1
        tower.stopped = patience > 0 and tower.wait >= patience
