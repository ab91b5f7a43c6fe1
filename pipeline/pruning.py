"""Per-epoch pruning over seeds: the whole rule in one Optuna pruner.

A trial reports the running mean over seeds of its validation score at step
seed_index * max_epochs + epoch (pipeline.objective). The median rule acts from the second seed on
(a warm-up of one seed's worth of steps: no configuration is pruned on one seed alone), and never
in the first half of a seed's epochs: LSTMs with a high learning rate often start slowly (bench/
search quality saw the best addition configuration pruned after its first epoch).
Racing across seeds is the other level of early stopping (pipeline.racing).
"""
from __future__ import annotations

import optuna

from pipeline.errors import UsageError

PRUNERS = ("median", "none")
STARTUP_TRIALS = 5  # complete trials before the median rule may prune


class SeedAwarePruner(optuna.pruners.BasePruner):
    """The median rule on running means over seeds, outside the first seed and each seed's first half."""

    def __init__(self, max_epochs: int, n_startup_trials: int = STARTUP_TRIALS) -> None:
        self.max_epochs = max_epochs
        self._median = optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=max_epochs)

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        epoch = step % self.max_epochs
        return 2 * (epoch + 1) > self.max_epochs and self._median.prune(study, trial)


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner called `name`: median (SeedAwarePruner) or none (a UsageError for any other name)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return SeedAwarePruner(max_epochs)
    raise UsageError(f"unknown pruner '{name}'; choose one of: {', '.join(PRUNERS)}")
