"""Per-epoch pruning over seeds: the whole rule in one Optuna pruner.

A trial reports the running mean over seeds of its validation score at step
seed_index * max_epochs + epoch (pipeline.search.objective); fused towers report the mean over all seeds at
the last seed's steps. Three rules, all seed-aware (no configuration is judged on one seed alone):

- median: Optuna's median rule, from the second seed on (a warm-up of one seed's worth of
  steps) and never in the first half of a seed's epochs: LSTMs with a high learning rate often start
  slowly (bench/ search quality saw the best addition configuration pruned after its first epoch).
- halving (default): multi-fidelity. Optuna's SuccessiveHalvingPruner over epochs: at 1, 3, 9, ...
  epochs only the best third of the configurations that reached that rung go on, judged only on the
  mean over every seed. Most configurations cost an epoch; the promising ones get the full budget.
- hyperband: Optuna's HyperbandPruner over epochs, the same rule in brackets whose first rung is at
  1, 3, 9, ... epochs: it hedges against slow starters, and costs more per configuration (a trial
  of the last bracket is never stopped before 9 epochs).

Racing across seeds is the other level of early stopping (pipeline.search.racing).
"""
from __future__ import annotations

import copy

import optuna

from pipeline.search.options import PRUNERS
from pipeline.errors import UsageError

STARTUP_TRIALS = 5  # complete trials before the median rule may prune
REDUCTION_FACTOR = 3  # halving, hyperband: a third of a rung's configurations go on to the next


class SeedAwarePruner(optuna.pruners.BasePruner):
    """The median, halving or hyperband rule on running means over seeds (see the module's docstring)."""

    def __init__(self, max_epochs: int, seeds: int = 1, rule: str = "median",
                 n_startup_trials: int = STARTUP_TRIALS) -> None:
        self.max_epochs, self.seeds, self.rule = max_epochs, seeds, rule
        self._median = optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=max_epochs)
        self._rungs = (optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs,
                                                      reduction_factor=REDUCTION_FACTOR) if rule == "hyperband" else
                       optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=REDUCTION_FACTOR))

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        seed_index, epoch = divmod(step, self.max_epochs)
        if self.rule == "median":
            return 2 * (epoch + 1) > self.max_epochs and self._median.prune(study, trial)
        if seed_index < self.seeds - 1:
            return False  # a mean over some seeds only
        return self._rungs.prune(study, _in_epochs(trial, (self.seeds - 1) * self.max_epochs))


def _in_epochs(trial: optuna.trial.FrozenTrial, offset: int) -> optuna.trial.FrozenTrial:
    """The trial as the rung rules read it: the means over every seed, keyed by epochs trained (1, 2, ...)."""
    view = copy.copy(trial)
    view.intermediate_values = {step - offset + 1: value for step, value in trial.intermediate_values.items()
                                if step >= offset}
    return view


def make_pruner(name: str, max_epochs: int, seeds: int = 1) -> optuna.pruners.BasePruner:
    """The pruner called `name`: median, halving or hyperband (SeedAwarePruner), or none (a UsageError for any
    other name)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name in PRUNERS:
        return SeedAwarePruner(max_epochs, seeds, name)
    raise UsageError(f"unknown pruner '{name}'; choose one of: {', '.join(PRUNERS)}")
