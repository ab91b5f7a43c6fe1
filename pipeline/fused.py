"""Fused training: groups of seed runs trained at once as the towers of one Keras model.

A group is one configuration over its seeds, with its own listener; the groups of one call share a
structure (pipeline.tower_settings.structure) and may differ in learning rate, dropout, L1/L2 and
initializer. Each tower is a genuine independent run: its own initialization (its plain model built
under its seed), its own shuffled batches, its own early stopping and best weights, its own scores.

A group's listener may raise to stop its group (a pruned trial; a diverging tower stops its group
with NonFiniteLoss): that group's towers stop updating, the others train on, and the group's result
is the exception instead of its runs.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from pipeline.architectures import build_model, resolve
from pipeline.architectures.common import optimizer
from pipeline.errors import NonFiniteLoss
from pipeline.problems.base import Problem
from pipeline.seeding import seed_everything
from pipeline.tower_settings import TowerRates, structure
from pipeline.towers import Towers, Unfusable
from pipeline.training import Arrays, SeedRun, build_training_state

if TYPE_CHECKING:
    from pipeline.multi_seed import SeedListener

# Batches per call into the compiled step. More saves Python round trips per step but traces the step
# twice (a loop and a remainder); bench/ measures 1 and 16 within 4% of each other at tuning sizes.
STEPS_PER_EXECUTION = 1
PREDICT_BATCH = 512


@dataclass
class Group:
    """One configuration over its seeds, trained as towers; `listener` hears its events."""

    hp: dict[str, Any]
    seeds: list[int]
    listener: SeedListener


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


def _at(history: dict[str, list[float]], metric: str, epoch: int) -> float:
    """A run's validation score at `epoch`, or at its last epoch when it stopped earlier."""
    curve = history[f"val_{metric}"]
    return curve[min(epoch, len(curve) - 1)]


def fusable(problem: Problem, architecture: str) -> bool:
    """Whether the architecture's models (at default hyperparameters) train as towers on this problem."""
    if type(problem).evaluate is not Problem.evaluate:
        return False
    try:
        Towers([build_model(architecture, problem, resolve({}))] * 2)
    except Unfusable:
        return False
    return True


def train_groups(problem: Problem, architecture: str, groups: list[Group], train: Arrays, val: Arrays | None,
                 keep_models: bool = False, initial_weights: list[np.ndarray] | None = None,
                 ) -> list[list[SeedRun] | Exception]:
    """Per group, in order: its SeedRuns (one per seed), or the exception that stopped it.

    Raises Unfusable when the model or the problem does not allow towers, or the groups differ in
    structure; an exception that is not an Exception (e.g. KeyboardInterrupt) stops every group."""
    if type(problem).evaluate is not Problem.evaluate:
        raise Unfusable(f"problem '{problem.name}' scores by running the model itself")
    hps = [resolve(g.hp) for g in groups]
    if any(structure(hp) != structure(hps[0]) for hp in hps):
        raise Unfusable("configurations of different structures cannot share towers")
    hp = hps[0]
    owner = [k for k, g in enumerate(groups) for _ in g.seeds]  # tower -> group
    seeds = [seed for g in groups for seed in g.seeds]
    n = len(seeds)
    keras.backend.clear_session(free_memory=False)
    gc.collect()
    plains = []
    for tower, seed in enumerate(seeds):  # each tower starts exactly where the sequential run of its seed starts
        seed_everything(seed)
        plains.append(build_model(architecture, problem, hps[owner[tower]]))
        if initial_weights is not None:
            plains[-1].set_weights(initial_weights)
    towers = Towers(plains)
    model = towers.model
    opt = optimizer(hp)
    rates = TowerRates(opt, [hps[k]["learning_rate"] for k in owner])
    model.compile(optimizer=opt, loss=_summed_loss(problem, n), metrics=[_TowerLosses(problem, n)],
                  steps_per_execution=STEPS_PER_EXECUTION)
    build_training_state(model, np.repeat(train[0][:1, None], n, axis=1), np.repeat(train[1][:1, None], n, axis=1))
    seed_everything(seeds[0])
    orders = [np.random.default_rng([seed, 1]) for seed in seeds]  # each tower its own shuffling
    x_val_tiled = np.repeat(val[0][:, None], n, axis=1) if val is not None else None
    state = [_Tower(seed) for seed in seeds]
    results: list[list[SeedRun] | Exception | None] = [None] * len(groups)
    members = [[t for t in range(n) if owner[t] == k] for k in range(len(groups))]

    def stop(k: int, exc: Exception) -> None:
        results[k] = exc
        for t in members[k]:
            rates.freeze(t)

    for g in groups:
        g.listener.started(g.seeds)
    fit_seconds = 0.0
    for epoch in range(hp["epochs"]):
        index = np.stack([rng.permutation(len(train[0])) for rng in orders], axis=1)  # (N, towers)
        start = time.perf_counter()
        logs = model.fit(train[0][index], train[1][index], batch_size=hp["batch_size"], epochs=1, shuffle=False,
                         verbose=0).history
        fit_seconds += time.perf_counter() - start
        pred = model.predict(x_val_tiled, batch_size=PREDICT_BATCH, verbose=0) if val is not None else None
        for k, group in enumerate(groups):
            if results[k] is not None:
                continue
            try:
                for t in members[k]:  # a stopped tower trains on (its weights are restored at the end)
                    if state[t].stopped:
                        continue
                    value = logs[f"loss_{t}"][0]
                    if not math.isfinite(value):
                        raise NonFiniteLoss(f"loss became {value} at epoch {epoch + 1} (seed {state[t].seed})")
                    state[t].history["loss"].append(float(value))
                    if pred is not None:
                        _score_epoch(problem, towers, t, state[t], val[1], pred[:, t], epoch, hp["patience"])
                if pred is not None:
                    group.listener.epoch(len(group.seeds) - 1, epoch,
                                         [_at(state[t].history, problem.metric, epoch) for t in members[k]])
            except Exception as exc:  # noqa: BLE001 - the group's own end; the others train on
                stop(k, exc)
        if all(results[k] is not None or all(state[t].stopped for t in members[k]) for k in range(len(groups))):
            break
    if val is not None:
        towers.restore([t.best_weights if t.best_weights is not None else towers.snapshot(i)
                        for i, t in enumerate(state)])
    for k, group in enumerate(groups):
        if results[k] is not None:
            continue
        runs = [SeedRun(
            seed=state[t].seed, score=state[t].best_metrics.get(problem.metric) if val is not None else None,
            metrics=state[t].best_metrics, history=state[t].history, epochs=len(state[t].history["loss"]),
            best_epoch=int(np.argmin(state[t].history.get("val_loss") or state[t].history["loss"])) + 1,
            n_params=int(plains[t].count_params()), fit_seconds=fit_seconds / n, towers=n,
            model=towers.export(t, plains[t]) if keep_models else None) for t in members[k]]
        try:
            for i, run in enumerate(runs):
                group.listener.finished(i, run)
            results[k] = runs
        except Exception as exc:  # noqa: BLE001
            results[k] = exc
    return results


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
