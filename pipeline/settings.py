"""Every job's options and their defaults, written once: those every job shares (where studies and runs
live, progress bars, fused towers), and the report's and retune's. The tune stage's are in
pipeline.search.options, beside the engine, sampler and pruner names they choose from. Light on purpose:
the command line reads its defaults from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RUNS_DIR = Path("runs")
ENSEMBLE_SIZE = 5  # seeds of the final refit; 1 refits and registers one seed model
AUTO, PILOT_SEEDS, MAX_AUTO_SEEDS = "auto", 6, 40  # REPEATS=auto: a pilot's seeds, and the most it may ask
# The report that ends `make tune` is smaller than `make report`'s: candidates, and seeds per candidate.
TUNE_REPORT_TOP_K, TUNE_REPORT_REPEATS = 3, 10
HOST = "127.0.0.1"  # servers bind this address unless told otherwise
SERVE_PORT, DASHBOARD_PORT = 5001, 8080
REPRODUCE_SEEDS = 5
SCHEDULE_EVERY = "weekly"


@dataclass(kw_only=True)
class JobSettings:
    storage: str | None = None  # Optuna storage URL (default: SQLite under runs_dir)
    tracking: str | None = None  # MLflow tracking URI (default: SQLite under runs_dir)
    runs_dir: Path = DEFAULT_RUNS_DIR  # embedded stores, locks, KerasTuner state
    progress: bool = True  # progress bars on stderr
    fuse: bool = True  # train a configuration's seeds at once as fused towers where the model allows

    def tracker(self):
        """The MLflow tracker of these settings (checked to answer)."""
        from pipeline.stores.storage import tracker_for  # MLflow loads when a job needs it, not for --help

        return tracker_for(self.tracking, self.runs_dir)

    def study_storage(self):
        """The Optuna storage of these settings (checked to open)."""
        from pipeline.stores.storage import optuna_storage

        return optuna_storage(self.storage, self.runs_dir)


@dataclass
class ReportSettings(JobSettings):
    problem: str
    top_k: int = 5
    repeats: int | str = 30  # seeds per candidate, or "auto": a pilot picks enough to detect the margin
    out_dir: Path = Path("reports/out")
    alpha: float = 0.05
    margin: float | None = None  # equivalence margin in the metric's units (None: the problem's own)
    register: bool = True
    ensemble: int = ENSEMBLE_SIZE  # seeds of the final refit: their ensemble is registered when it wins (1: one seed)


@dataclass
class RetuneSettings(JobSettings):
    problem: str
    data: dict[str, str] = field(default_factory=dict)  # csv: path=<newer file>
    data_seed: int | None = None  # synthetic problems: default = a seed no earlier retune used
    repeats: int = 10
    extra_epochs: int = 5
    trials: int = 4  # the short warm-started study
    tune_seeds: int = 2
    alpha: float = 0.05
