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
from pipeline.problems.base import Problem  # noqa: F401 (annotations)
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
    """One tower of the fused model, named by its index in the first model: its group, seed, hyperparameters
    and plain model, its own shuffling, its early-stopping bookkeeping (history, best loss, scores and
    weights, patience used, stopped) and its share of the fit time."""

    def __init__(self, index: int, group: int, seed: int, hp: dict[str, Any], plain: keras.Model) -> None:
        self.index, self.group, self.seed, self.hp, self.plain = index, group, seed, hp, plain
        self.order = np.random.default_rng([seed, 1])  # each tower its own shuffling
        self.history: dict[str, list[float]] = {"loss": []}
        self.best_loss, self.wait = math.inf, 0
        self.best_metrics: dict[str, float] = {}
        self.best_weights: list[list[np.ndarray]] | None = None
        self.stopped = False
        self.fit_seconds = 0.0  # its share of the fit time of the epochs it trained in


def score_at(history: dict[str, list[float]], metric: str, epoch: int) -> float:
    """A run's validation score at `epoch`, or at its last epoch when it stopped earlier."""
    curve = history[f"val_{metric}"]
    return curve[min(epoch, len(curve) - 1)]


def fusable(problem: Problem, architecture: str) -> bool:
    """Whether the architecture's models (at default hyperparameters) train as towers on this problem."""
    if problem.custom_evaluate:
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
    hps = _shared_structure(problem, groups)
    towers = _build_towers(problem, architecture, groups, hps, initial_weights)
    training = _Training(problem, groups, towers, _fuse(problem, towers, hps[0], train), val)
    for g in groups:
        g.listener.started(g.seeds)
    for epoch in range(hps[0]["epochs"]):
        if not training.epoch(epoch, train):
            break
    return training.finish(keep_models)


def _shared_structure(problem: Problem, groups: list[Group]) -> list[dict[str, Any]]:
    """Each group's resolved hyperparameters; Unfusable unless the problem and the groups allow towers."""
    if problem.custom_evaluate:
        raise Unfusable(f"problem '{problem.name}' scores by running the model itself")
    hps = [resolve(g.hp) for g in groups]
    if any(structure(hp) != structure(hps[0]) for hp in hps):
        raise Unfusable("configurations of different structures cannot share towers")
    return hps


def _build_towers(problem: Problem, architecture: str, groups: list[Group], hps: list[dict[str, Any]],
                  initial_weights: list[np.ndarray] | None) -> list[_Tower]:
    """One tower per seed of each group, in order, its plain model built under its seed: each tower starts
    exactly where the sequential run of its seed starts."""
    keras.backend.clear_session(free_memory=False)
    gc.collect()
    towers: list[_Tower] = []
    for k, group in enumerate(groups):
        for seed in group.seeds:
            seed_everything(seed)
            plain = build_model(architecture, problem, hps[k])
            if initial_weights is not None:
                plain.set_weights(initial_weights)
            towers.append(_Tower(len(towers), k, seed, hps[k], plain))
    return towers


def _fuse(problem: Problem, towers: list[_Tower], hp: dict[str, Any], train: Arrays) -> LiveTowers:
    """The fused model of the towers; TooWide when one training step of them would not fit in memory."""
    fit = towers_that_fit(towers[0].plain, hp["batch_size"])
    if len(towers) > fit:
        raise TooWide(fit, f"{len(towers)} towers of this model would not fit one training step in memory; "
                           f"{fit} would")
    fused = LiveTowers(problem, [t.plain for t in towers], [t.hp for t in towers], train)
    seed_everything(towers[0].seed)
    return fused


class _Training:
    """The towers of one train_groups call as they train: each group's result once it has one."""

    def __init__(self, problem: Problem, groups: list[Group], towers: list[_Tower], fused: LiveTowers,
                 val: Arrays | None) -> None:
        self.problem, self.groups, self.towers, self.fused, self.val = problem, groups, towers, fused, val
        self.hp = towers[0].hp  # the shared structure: epochs, patience
        self.results: list[list[SeedRun] | Exception | None] = [None] * len(groups)
        self.members = [[t for t in towers if t.group == k] for k in range(len(groups))]

    def training(self, tower: _Tower) -> bool:
        return self.results[tower.group] is None and not tower.stopped

    def epoch(self, epoch: int, train: Arrays) -> bool:
        """One epoch of the live towers, scored and heard by each group still going; whether any trains on."""
        fused = self.fused
        index = np.stack([t.order.permutation(len(train[0])) for t in self.towers], axis=1)  # (N, towers)
        start = time.perf_counter()
        fused.start_epoch(epoch)
        losses = fused.fit_epoch(train[0], train[1], index)
        share = (time.perf_counter() - start) / len(fused.live)
        for t in fused.live:
            self.towers[t].fit_seconds += share
        pred = fused.predict(self.val[0]) if self.val is not None else None
        for k in range(len(self.groups)):
            if self.results[k] is None:
                self._hear(k, epoch, losses, pred)
        going = [t for t in fused.live if self.training(self.towers[t])]
        if not going:
            return False
        if worth_rebuilding(len(fused.live) - len(going), len(fused.live), self.hp["epochs"] - epoch - 1):
            fused.keep(going)
        return True

    def _hear(self, k: int, epoch: int, losses: dict[int, float], pred: dict[int, np.ndarray] | None) -> None:
        """Group k's towers record this epoch and its listener hears their scores; what it raises ends it."""
        group, members, metric = self.groups[k], self.members[k], self.problem.metric
        try:
            for tower in members:  # a stopped tower trains on until the model is rebuilt without it
                if tower.stopped:
                    continue
                loss = losses[tower.index]
                if not math.isfinite(loss):
                    raise NonFiniteLoss(f"loss became {loss} at epoch {epoch + 1} (seed {tower.seed})")
                tower.history["loss"].append(float(loss))
                if pred is not None:
                    _score_epoch(self.problem, self.fused, tower, self.val[1], pred[tower.index], epoch,
                                 self.hp["patience"])
            if pred is not None:
                group.listener.epoch(len(group.seeds) - 1, epoch,
                                     [score_at(t.history, metric, epoch) for t in members])
        except Exception as exc:  # noqa: BLE001 - the group's own end; the others train on
            self.results[k] = exc
            for tower in members:
                self.fused.freeze(tower.index)

    def finish(self, keep_models: bool) -> list[list[SeedRun] | Exception]:
        """Each group's result: the exception that stopped it, or its runs once its listener has heard them."""
        for k, group in enumerate(self.groups):
            if self.results[k] is not None:
                continue
            runs = [self._run(tower, keep_models) for tower in self.members[k]]
            try:
                for i, run in enumerate(runs):
                    group.listener.finished(i, run)
                self.results[k] = runs
            except Exception as exc:  # noqa: BLE001
                self.results[k] = exc
        return self.results

    def _run(self, tower: _Tower, keep_models: bool) -> SeedRun:
        """A finished tower's SeedRun: its best scores (with validation data) and, if kept, its model."""
        history, val = tower.history, self.val
        return SeedRun(
            seed=tower.seed, score=tower.best_metrics.get(self.problem.metric) if val is not None else None,
            metrics=tower.best_metrics, history=history, epochs=len(history["loss"]),
            best_epoch=int(np.argmin(history.get("val_loss") or history["loss"])) + 1,
            n_params=int(tower.plain.count_params()), fit_seconds=tower.fit_seconds, towers=len(self.towers),
            model=self.fused.write(_final_weights(self.fused, tower), tower.plain) if keep_models else None)


def _final_weights(fused: LiveTowers, tower: _Tower) -> list[list[np.ndarray]]:
    """The weights a tower ends with: its best (with validation data), else its last (it is still live)."""
    return tower.best_weights if tower.best_weights is not None else fused.snapshot(tower.index)


def _score_epoch(problem: Problem, towers: LiveTowers, tower: _Tower, y_val: np.ndarray, pred: np.ndarray,
                 epoch: int, patience: int) -> None:
    """The tower's validation loss and scores at this epoch; keep its best weights; stop it when patient."""
    if not np.all(np.isfinite(pred)):
        raise NonFiniteLoss(f"predictions became non-finite at epoch {epoch + 1} (seed {tower.seed})")
    val_loss = float(np.mean(keras.losses.get(problem.loss)(y_val, pred))) + towers.regularization(tower.index)
    scores = problem.scores(y_val, pred)
    if not math.isfinite(val_loss) or not math.isfinite(scores[problem.metric]):
        raise NonFiniteLoss(f"validation loss became {val_loss} at epoch {epoch + 1} (seed {tower.seed})")
    tower.history.setdefault("val_loss", []).append(val_loss)
    tower.history.setdefault(f"val_{problem.metric}", []).append(float(scores[problem.metric]))
    # Without early stopping (patience 0) the last epoch's weights are kept, as train_one keeps them.
    if patience == 0 or tower.best_weights is None or val_loss < tower.best_loss:
        tower.best_loss, tower.wait = val_loss, 0
        tower.best_metrics = {k: float(v) for k, v in scores.items()}
        tower.best_weights = towers.snapshot(tower.index)
    else:
        tower.wait += 1
        tower.stopped = patience > 0 and tower.wait >= patience
