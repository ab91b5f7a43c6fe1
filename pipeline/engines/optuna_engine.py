"""Optuna engine: TPE (or random search, or a Gaussian process) picks the configurations, the
seed-aware pruner and racing stop poor trials; one process trains trials in batches that share one
fused model (pipeline.trial_batches), or local worker processes share the study, each running
`study.optimize`."""
from __future__ import annotations

from typing import TYPE_CHECKING

import optuna

from pipeline.engines import DEFAULT_SAMPLER, OPTUNA, STARTUP_TRIALS, Engine
from pipeline.objective import StudyContext
from pipeline.progress import Progress, count_finished
from pipeline.trial_batches import optimize_in_batches
from pipeline.workers import run_workers

if TYPE_CHECKING:
    from pipeline.stages.tune import TuneSettings


class OptunaEngine(Engine):
    name = OPTUNA

    def __init__(self, sampler: str = DEFAULT_SAMPLER) -> None:
        self.kind = sampler
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

    def run(self, study: optuna.Study, ctx: StudyContext, settings: TuneSettings, timeout: float | None,
            progress: Progress) -> None:
        if settings.workers > 1:
            run_workers(settings, ctx.architecture, count_finished(study) + settings.trials, timeout, study,
                        progress)
            return
        optimize_in_batches(study, ctx, settings.trials, timeout, settings.batch, [progress],
                            lambda: progress.stopped_reason is not None)
