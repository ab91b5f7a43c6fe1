"""What hears training over seeds: a listener's hooks, called alike by sequential and fused training
(any hook may raise, e.g. optuna.TrialPruned, to stop its configuration)."""
from __future__ import annotations

from pipeline.training.one_seed import SeedRun


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
