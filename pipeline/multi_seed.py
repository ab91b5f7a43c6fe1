"""Train one configuration over several seeds: all at once as fused seed towers where the model
allows it (pipeline.fused), otherwise one seed after another with `train_one`.

Either way each seed is a genuine independent run: its own initialization (the plain model built
under its seed), its own shuffled batches, its own early stopping and best weights, its own
history and scores. Listeners see the same events in both modes.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from pipeline.errors import NonFiniteLoss
from pipeline.fused import Group, score_at, train_groups
from pipeline.problems.base import Problem
from pipeline.towers import Unfusable
from pipeline.training import Arrays, SeedRun, train_one


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
            result = train_groups(problem, architecture, [Group(hp, seeds, listener)], train, val, keep_models,
                                  initial_weights)[0]
        except Unfusable:
            result = None
        if isinstance(result, list):
            return result
        if result is not None and not (isinstance(result, NonFiniteLoss) and record_failures):
            raise result
    runs: list[SeedRun] = []
    for index, seed in enumerate(seeds):
        listener.started([seed])

        def hook(epoch: int, value: float, index: int = index) -> None:
            earlier = [score_at(r.history, problem.metric, epoch) for r in runs if not r.failure]
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
