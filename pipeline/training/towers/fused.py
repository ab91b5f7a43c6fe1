"""Fused training: groups of seed runs trained at once as the towers of one Keras model.

A group is one configuration over its seeds, with its own listener; the groups of one call share a
structure (pipeline.training.towers.per_tower.structure) and may differ in learning rate, dropout, L1/L2 and
initializer. Each tower is a genuine independent run: its own initialization (its plain model built
under its seed), its own shuffled batches, its own early stopping and best weights, its own scores.

A group's listener may raise to stop its group (a pruned trial; a diverging tower stops its group
with NonFiniteLoss): that group's towers stop updating, the others train on, and the group's result
is the exception instead of its runs. Once a third of the towers have stopped (pruned, failed or
stopped early), the model is rebuilt without them (pipeline.training.towers.live), so they cost nothing more.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from pipeline.architectures import build_model, resolve
from pipeline.errors import NonFiniteLoss
from pipeline.training.towers.live import LiveTowers, towers_that_fit, worth_rebuilding
from pipeline.problems.base import Problem
from pipeline.training.seeding import seed_everything
from pipeline.training.towers.per_tower import structure
from pipeline.training.towers.model import TooWide, Towers, Unfusable
from pipeline.training.listeners import SeedListener
from pipeline.training.one_seed import Arrays, SeedRun


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


def score_at(history: dict[str, list[float]], metric: str, epoch: int) -> float:
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
    fit = towers_that_fit(plains[0], hp["batch_size"])
    if n > fit:
        raise TooWide(fit, f"{n} towers of this model would not fit one training step in memory; {fit} would")
    fused = LiveTowers(problem, plains, [hps[k] for k in owner], train)
    seed_everything(seeds[0])
    orders = [np.random.default_rng([seed, 1]) for seed in seeds]  # each tower its own shuffling
    state = [_Tower(seed) for seed in seeds]
    results: list[list[SeedRun] | Exception | None] = [None] * len(groups)
    members = [[t for t in range(n) if owner[t] == k] for k in range(len(groups))]
    fit_seconds = [0.0] * n  # each tower's share of the fit time of the epochs it trained in

    def training(t: int) -> bool:
        return results[owner[t]] is None and not state[t].stopped

    for g in groups:
        g.listener.started(g.seeds)
    for epoch in range(hp["epochs"]):
        index = np.stack([rng.permutation(len(train[0])) for rng in orders], axis=1)  # (N, towers)
        start = time.perf_counter()
        fused.start_epoch(epoch)
        losses = fused.fit_epoch(train[0], train[1], index)
        share = (time.perf_counter() - start) / len(fused.live)
        for t in fused.live:
            fit_seconds[t] += share
        pred = fused.predict(val[0]) if val is not None else None
        for k, group in enumerate(groups):
            if results[k] is not None:
                continue
            try:
                for t in members[k]:  # a stopped tower trains on until the model is rebuilt without it
                    if state[t].stopped:
                        continue
                    if not math.isfinite(losses[t]):
                        raise NonFiniteLoss(f"loss became {losses[t]} at epoch {epoch + 1} (seed {state[t].seed})")
                    state[t].history["loss"].append(float(losses[t]))
                    if pred is not None:
                        _score_epoch(problem, fused, t, state[t], val[1], pred[t], epoch, hp["patience"])
                if pred is not None:
                    group.listener.epoch(len(group.seeds) - 1, epoch,
                                         [score_at(state[t].history, problem.metric, epoch) for t in members[k]])
            except Exception as exc:  # noqa: BLE001 - the group's own end; the others train on
                results[k] = exc
                for t in members[k]:
                    fused.freeze(t)
        going = [t for t in fused.live if training(t)]
        if not going:
            break
        if worth_rebuilding(len(fused.live) - len(going), len(fused.live), hp["epochs"] - epoch - 1):
            fused.keep(going)
    for k, group in enumerate(groups):
        if results[k] is not None:
            continue
        runs = [SeedRun(
            seed=state[t].seed, score=state[t].best_metrics.get(problem.metric) if val is not None else None,
            metrics=state[t].best_metrics, history=state[t].history, epochs=len(state[t].history["loss"]),
            best_epoch=int(np.argmin(state[t].history.get("val_loss") or state[t].history["loss"])) + 1,
            n_params=int(plains[t].count_params()), fit_seconds=fit_seconds[t], towers=n,
            model=fused.write(_final_weights(fused, state[t], t), plains[t]) if keep_models else None)
            for t in members[k]]
        try:
            for i, run in enumerate(runs):
                group.listener.finished(i, run)
            results[k] = runs
        except Exception as exc:  # noqa: BLE001
            results[k] = exc
    return results


def _final_weights(fused: LiveTowers, tower: _Tower, t: int) -> list[list[np.ndarray]]:
    """The weights a tower ends with: its best (with validation data), else its last (it is still live)."""
    return tower.best_weights if tower.best_weights is not None else fused.snapshot(t)


def _score_epoch(problem: Problem, towers: LiveTowers, s: int, tower: _Tower, y_val: np.ndarray, pred: np.ndarray,
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
