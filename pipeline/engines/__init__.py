"""Tuning engines: which library picks each trial's configuration (Optuna itself, or KerasTuner).

Kept free of heavy imports: the CLI reads the names from here.
"""
from __future__ import annotations

from pipeline.errors import UsageError

OPTUNA, KERAS_TUNER = "optuna", "keras-tuner"
ENGINES = (OPTUNA, KERAS_TUNER)
KT_ALGORITHMS = ("random", "hyperband", "bayesian")
STARTUP_TRIALS = 5  # random trials before a model-based search (TPE, KerasTuner's Bayesian) takes over


def check_engine(engine: str, algorithm: str, workers: int) -> None:
    """Reject an unknown engine or algorithm, and worker processes for KerasTuner."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'; choose one of: {', '.join(ENGINES)}")
    if algorithm not in KT_ALGORITHMS:
        raise UsageError(f"unknown KerasTuner algorithm '{algorithm}'; choose one of: {', '.join(KT_ALGORITHMS)}")
    if engine == KERAS_TUNER and workers > 1:
        raise UsageError("ENGINE=keras-tuner runs in one process: drop WORKERS, or use ENGINE=optuna")
