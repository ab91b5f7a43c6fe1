"""Warm start: a new study begins with the best configurations that earlier studies of the same
problem and architecture found in the same storage (other tags, engines or study seeds), after the
book's reference. A small budget then starts from what is already known instead of from scratch.

A retune's short study starts from the champion's configuration instead (ChampionFirst: the engine it
runs with)."""
from __future__ import annotations

from typing import Any

import optuna

from pipeline.search.engines.optuna_engine import OptunaEngine
from search_spaces.loader import SearchSpace

WARM_START = 2  # best complete trials taken from each earlier study
RETUNE_STARTUP_TRIALS = 3  # a retune's short study: the champion's configuration and two random ones, then TPE


class ChampionFirst(OptunaEngine):
    """The Optuna engine of a retune's short study: one trial at a time, TPE after RETUNE_STARTUP_TRIALS
    (not multivariate); the study starts with the champion's configuration, which the retune enqueues, not
    with the book's reference or earlier studies' best."""

    reference_trial = False

    def __init__(self) -> None:
        super().__init__("tpe", 1)
        self.attrs = {"sampler": "tpe", "startup_trials": RETUNE_STARTUP_TRIALS}

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=RETUNE_STARTUP_TRIALS)


def earlier_best(studies: list[optuna.Study], space: SearchSpace,
                 per_study: int = WARM_START) -> list[tuple[str, dict[str, Any]]]:
    """(study name, params) of the best complete trials of earlier studies of the pair (as
    pipeline.search.studies.stored_studies finds them), as values of this space's searched keys;
    configurations this space cannot produce, and repeats, are left out."""
    found, seen = [], set()
    for study in studies:
        trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        best = sorted(trials, key=lambda t: t.value, reverse=study.direction == optuna.study.StudyDirection.MAXIMIZE)
        for trial in best[:per_study]:
            params = space.restrict(trial.params)
            key = tuple(sorted(params.items()))
            if params and not space.outside(params) and key not in seen:
                seen.add(key)
                found.append((study.study_name, params))
    return found
