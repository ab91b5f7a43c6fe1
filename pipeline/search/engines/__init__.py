"""Tuning engines: which library picks each trial's configuration (Optuna itself, or KerasTuner).

An engine is a small strategy object (get_engine): the study's name suffix, sampler and pruning,
whether it starts with the reference trial, how it clears trials left RUNNING, and how it runs
trials. Their names and defaults are in pipeline.search.options.
"""
from __future__ import annotations

from pipeline.search.engines.base import Engine
from pipeline.search.options import KERAS_TUNER, TuneSettings, check_engine


def get_engine(settings: TuneSettings) -> Engine:
    """The engine `settings` name, built from the values it needs (KerasTuner: its algorithm, seed and state
    folder; Optuna: its sampler and batch size)."""
    check_engine(settings.engine, settings.kt_algorithm, 1, settings.sampler)
    if settings.engine == KERAS_TUNER:
        from pipeline.search.engines.keras_tuner import KerasTunerEngine

        return KerasTunerEngine(settings.kt_algorithm, settings.study_seed, settings.runs_dir / "keras_tuner")
    from pipeline.search.engines.optuna_engine import OptunaEngine

    return OptunaEngine(settings.sampler, settings.batch)
