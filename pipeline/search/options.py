"""What a search is told: TuneSettings, and the names and defaults of engines, samplers and pruners.

Light on purpose (no TensorFlow, Optuna or MLflow): the command line reads every default from here.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from pipeline.errors import UsageError
from pipeline.settings import JobSettings

OPTUNA, KERAS_TUNER = "optuna", "keras-tuner"
ENGINES = (OPTUNA, KERAS_TUNER)
KT_ALGORITHMS = ("random", "hyperband", "bayesian")
SAMPLERS = ("tpe", "random", "gp")  # the Optuna engine's (pipeline.search.engines.optuna_engine)
PRUNERS = ("halving", "hyperband", "median", "none")  # pipeline.search.pruning
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


@dataclass
class TuneSettings(JobSettings):
    problem: str
    architectures: str | None = None  # None/"all" = every valid architecture
    trials: int = DEFAULT_TRIALS  # new trials per study in this invocation, at most
    seeds: int = 3
    timeout: float | None = 600.0  # seconds for the whole invocation, shared by the studies
    space: str | None = None  # a user's YAML file (applies to every architecture chosen)
    study_seed: int = 0  # seeds the sampler and the list of training seeds
    data: dict[str, str] = field(default_factory=dict)  # problem parameters and n_train/n_val/n_test
    data_seed: int = 0
    pruner: str = DEFAULT_PRUNER  # halving | hyperband | median | none
    racing_alpha: float = 0.05
    tag: str | None = None  # appended to study names, to keep separate studies of the same pair
    workers: int = 1  # local worker processes sharing each study
    batch: int = DEFAULT_BATCH  # trials trained at once as one fused model (one process; 1 = one at a time)
    engine: str = OPTUNA  # optuna | keras-tuner: which library picks the configurations
    kt_algorithm: str = KT_ALGORITHMS[0]  # keras-tuner engine: random | hyperband | bayesian
    sampler: str = DEFAULT_SAMPLER  # optuna engine: tpe | random | gp
