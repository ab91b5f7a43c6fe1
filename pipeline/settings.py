"""The options every job shares: where studies and runs live, progress bars, fused towers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_RUNS_DIR = Path("runs")


@dataclass(kw_only=True)
class JobSettings:
    storage: str | None = None  # Optuna storage URL (default: SQLite under runs_dir)
    tracking: str | None = None  # MLflow tracking URI (default: SQLite under runs_dir)
    runs_dir: Path = DEFAULT_RUNS_DIR  # embedded stores, locks, KerasTuner state
    progress: bool = True  # progress bars on stderr
    fuse: bool = True  # train a configuration's seeds at once as fused towers where the model allows

    def tracker(self):
        """The MLflow tracker of these settings (checked to answer)."""
        from pipeline.storage import tracker_for

        return tracker_for(self.tracking, self.runs_dir)

    def study_storage(self):
        """The Optuna storage of these settings (checked to open)."""
        from pipeline.storage import optuna_storage

        return optuna_storage(self.storage, self.runs_dir)
