"""Warm start: a new study begins with the best configurations that earlier studies of the same
problem and architecture found in the same storage (other tags, engines or study seeds), after the
book's reference. A small budget then starts from what is already known instead of from scratch."""
from __future__ import annotations

from typing import Any

import optuna

from search_spaces.loader import SearchSpace

WARM_START = 2  # best complete trials taken from each earlier study


def earlier_best(storage: Any, problem: str, architecture: str, space: SearchSpace, exclude: str,
                 per_study: int = WARM_START) -> list[tuple[str, dict[str, Any]]]:
    """(study name, params) of the best complete trials of the storage's other studies of this pair, as
    values of this space's searched keys; configurations this space cannot produce are left out."""
    found, seen = [], set()
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if summary.study_name == exclude or (attrs.get("problem"), attrs.get("architecture")) != (problem, architecture):
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        best = sorted(trials, key=lambda t: t.value, reverse=study.direction == optuna.study.StudyDirection.MAXIMIZE)
        for trial in best[:per_study]:
            params = space.restrict(trial.params)
            key = tuple(sorted(params.items()))
            if params and not space.outside(params) and key not in seen:
                seen.add(key)
                found.append((summary.study_name, params))
    return found
