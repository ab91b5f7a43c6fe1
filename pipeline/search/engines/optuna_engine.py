"""Optuna engine: TPE (or random search, or a Gaussian process) picks the configurations, the
seed-aware pruner and racing stop poor trials; the process trains trials in batches that share one
fused model (pipeline.search.trial_batches). Worker processes (pipeline.search.workers) run Optuna's
own `study.optimize` instead; the tune stage chooses."""
from __future__ import annotations

import optuna

from pipeline.search.engines.base import Engine
from pipeline.search.objective import StudyContext
from pipeline.search.options import OPTUNA, STARTUP_TRIALS
from pipeline.search.progress import Progress
from pipeline.search.trial_batches import optimize_in_batches


class OptunaEngine(Engine):
    name = OPTUNA

    def __init__(self, sampler: str, batch: int) -> None:
        self.kind, self.batch = sampler, batch
        self.attrs = {"sampler": sampler}

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        if self.kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if self.kind == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
        # constant_liar: a batch's trials and workers sharing the study don't all pick next to the same
        # running trial
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS, multivariate=True,
                                          constant_liar=True)

    def run(self, study: optuna.Study, ctx: StudyContext, trials: int, timeout: float | None,
            progress: Progress) -> None:
        optimize_in_batches(study, ctx, trials, timeout, self.batch, [progress],
                            lambda: progress.stopped_reason is not None)
