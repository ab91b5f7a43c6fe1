"""Train one configuration over several seeds: all at once as fused seed towers where the model
allows it (pipeline.training.towers.fused), otherwise one seed after another with `train_one`.

Either way each seed is a genuine independent run: its own initialization (the plain model built
under its seed), its own shuffled batches, its own early stopping and best weights, its own
history and scores. Listeners see the same events in both modes.
"""
from __future__ import annotations

from typing import Any, Sequence

from pipeline.errors import NonFiniteLoss
from pipeline.training.towers.fused import Group, score_at, train_groups
from pipeline.problems.base import Problem
from pipeline.training.towers.model import Unfusable
from pipeline.training.listeners import SeedListener
from pipeline.training.one_seed import Arrays, SeedRun, TrainOptions, train_one

__all__ = ["TrainOptions", "train_seeds"]


def train_seeds(problem: Problem, architecture: str, hp: dict[str, Any], seeds: Sequence[int], train: Arrays,
                val: Arrays | None = None, listener: SeedListener | None = None,
                options: TrainOptions = TrainOptions()) -> list[SeedRun]:
    """One SeedRun per seed, in order; fused towers when `options.fuse` and the model allows, else sequential.

    A diverging seed (NonFiniteLoss) stops training, unless `options.record_failures`: then it becomes a
    SeedRun.diverged with its reason and the other seeds go on (fused towers are retrained seed by seed
    to find it)."""
    listener = listener or SeedListener()
    seeds = list(seeds)
    if options.fuse and len(seeds) > 1:
        try:
            result = train_groups(problem, architecture, [Group(hp, seeds, listener)], train, val,
                                  options.keep_models, options.initial_weights)[0]
        except Unfusable:
            result = None
        if isinstance(result, list):
            return result
        if result is not None and not (isinstance(result, NonFiniteLoss) and options.record_failures):
            raise result
    runs: list[SeedRun] = []
    for index, seed in enumerate(seeds):
        listener.started([seed])

        def hook(epoch: int, value: float, index: int = index) -> None:
            earlier = [score_at(r.history, problem.metric, epoch) for r in runs if not r.failure]
            listener.epoch(index, epoch, earlier + [value])

        try:
            run = train_one(problem, architecture, hp, seed, train, val, on_epoch=hook, options=options)
        except NonFiniteLoss as exc:
            if not options.record_failures:
                raise
            run = SeedRun.diverged(seed, str(exc))
        runs.append(run)
        listener.finished(index, run)
    return runs
