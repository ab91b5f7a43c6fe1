"""Tuning engines: which library picks each trial's configuration (Optuna itself, or KerasTuner).

An engine is a small strategy object (get_engine): the study's name suffix, sampler and pruning,
whether it starts with the reference trial, how it clears trials left RUNNING, and how it runs
trials. Kept free of heavy imports: the CLI reads the names from here.
"""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, Callable

from pipeline.errors import UsageError

if TYPE_CHECKING:
    import optuna

    from pipeline.objective import StudyContext
    from pipeline.stages.tune import TuneSettings

OPTUNA, KERAS_TUNER = "optuna", "keras-tuner"
ENGINES = (OPTUNA, KERAS_TUNER)
KT_ALGORITHMS = ("random", "hyperband", "bayesian")
SAMPLERS = ("tpe", "random", "gp")  # the Optuna engine's (pipeline.engines.optuna_engine)
PRUNERS = ("halving", "hyperband", "median", "none")  # pipeline.pruning
# The defaults of `make tune` (measured in bench/search.py, `make bench ONLY=throughput`): the time
# budget decides how many trials run; batches of trials train as one fused model; successive halving
# stops most of them after an epoch.
DEFAULT_TRIALS = 200  # new trials per study at most
DEFAULT_BATCH = 8
DEFAULT_PRUNER = "halving"
STARTUP_TRIALS = 5  # random trials before a model-based search (TPE, GP, KerasTuner's Bayesian) takes over
DEFAULT_SAMPLER = "tpe"  # measured against random and GP: `make bench ONLY=samplers`


def check_engine(engine: str, algorithm: str, workers: int, sampler: str = DEFAULT_SAMPLER) -> None:
    """Reject an unknown engine, algorithm or sampler (or GP without PyTorch), and worker processes for
    KerasTuner."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'; choose one of: {', '.join(ENGINES)}")
    if algorithm not in KT_ALGORITHMS:
        raise UsageError(f"unknown KerasTuner algorithm '{algorithm}'; choose one of: {', '.join(KT_ALGORITHMS)}")
    if sampler not in SAMPLERS:
        raise UsageError(f"unknown sampler '{sampler}'; choose one of: {', '.join(SAMPLERS)}")
    if sampler == "gp" and engine == OPTUNA and importlib.util.find_spec("torch") is None:
        raise UsageError("SAMPLER=gp (Optuna's GPSampler) needs PyTorch: .venv/bin/pip install torch")
    if engine == KERAS_TUNER and workers > 1:
        raise UsageError("ENGINE=keras-tuner runs in one process: drop WORKERS, or use ENGINE=optuna")


class Engine:
    """How one library searches a pair's study."""

    name: str  # the study's "engine" user attr and tag
    suffix: str = ""  # appended to the study name: each engine and algorithm keeps its own study
    prunes: bool = True  # the study uses the chosen Optuna pruner (else none: the engine sets the budget)
    reference_trial: bool = True  # a new study starts with the book's configuration (enqueued)
    attrs: dict[str, Any] = {}  # more study user attrs (and parent-run params), e.g. the algorithm

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def clear_running(self, study: optuna.Study) -> None:
        """Settle trials left RUNNING when the study is opened (beyond Optuna's stale heartbeats)."""

    def run(self, study: optuna.Study, ctx: StudyContext, settings: TuneSettings, timeout: float | None,
            progress: Callable[[optuna.Study, optuna.trial.FrozenTrial], None]) -> None:
        """Run this invocation's `settings.trials` new trials on `study`, calling `progress` after each."""
        raise NotImplementedError


def get_engine(name: str, algorithm: str = KT_ALGORITHMS[0], sampler: str = DEFAULT_SAMPLER) -> Engine:
    """The engine called `name` (KerasTuner with `algorithm`, Optuna with `sampler`)."""
    check_engine(name, algorithm, 1, sampler)
    if name == KERAS_TUNER:
        from pipeline.engines.keras_tuner import KerasTunerEngine

        return KerasTunerEngine(algorithm)
    from pipeline.engines.optuna_engine import OptunaEngine

    return OptunaEngine(sampler)
