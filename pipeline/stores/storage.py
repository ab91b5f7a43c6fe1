"""Where studies live (Optuna storage: embedded SQLite under runs/, or a user URL), checked up front;
the MLflow store is opened by tracking.stores and its errors become one line here."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from pipeline.errors import UsageError
from pipeline.stores.reconnecting_storage import ReconnectingStorage
from tracking.tracker import Tracker, mask_credentials
from tracking.stores import TrackingUnreachable, open_tracker

# A worker's running trial sends a heartbeat; one silent for the grace period is failed and retried.
HEARTBEAT_SECONDS = int(os.environ.get("LSTM_TUNE_HEARTBEAT", "30"))
GRACE_SECONDS = int(os.environ.get("LSTM_TUNE_GRACE", str(3 * HEARTBEAT_SECONDS)))


def optuna_storage(url: str | None, runs_dir: Path) -> RDBStorage:
    """An Optuna RDB storage with heartbeats (a trial of a dead worker is failed and retried once) that
    outlives dropped database connections (pipeline.stores.reconnecting_storage)."""
    if url is None:
        runs_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(runs_dir / 'optuna.db').resolve()}"
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        return ReconnectingStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                                   heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                                   engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # sqlalchemy raises many kinds; all mean "cannot use this storage"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("start PostgreSQL or check the URL" if url.startswith("postgresql")
                else "check the URL (e.g. sqlite:///runs/optuna.db or postgresql://user@127.0.0.1:5432/db)")
        raise UsageError(f"cannot open Optuna storage {mask_credentials(url)}: {reason[:200]}; {hint}") from None


def tracker_for(uri: str | None, runs_dir: Path) -> Tracker:
    """The MLflow tracker of `uri` (embedded under runs_dir when None); an unreachable one is a UsageError."""
    try:
        return open_tracker(uri, runs_dir)
    except TrackingUnreachable as exc:
        raise UsageError(str(exc)) from None


def silence_optuna() -> None:
    """Our progress bar and summary replace Optuna's per-trial log lines."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
