"""Where studies and runs live: embedded SQLite defaults under runs/, or user URLs, checked up front."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from pipeline.errors import UsageError
from tracking import Tracker, mask_credentials

DEFAULT_RUNS_DIR = Path("runs")
# A worker's running trial sends a heartbeat; one silent for the grace period is failed and retried.
HEARTBEAT_SECONDS = int(os.environ.get("LSTM_TUNE_HEARTBEAT", "30"))
GRACE_SECONDS = int(os.environ.get("LSTM_TUNE_GRACE", str(3 * HEARTBEAT_SECONDS)))


def optuna_storage(url: str | None, runs_dir: Path = DEFAULT_RUNS_DIR) -> RDBStorage:
    """An Optuna RDB storage with heartbeats: a trial of a dead worker is failed and retried once."""
    if url is None:
        runs_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(runs_dir / 'optuna.db').resolve()}"
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        return RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                          engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # sqlalchemy raises many kinds; all mean "cannot use this storage"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("start PostgreSQL or check the URL" if url.startswith("postgresql")
                else "check the URL (e.g. sqlite:///runs/optuna.db or postgresql://user@127.0.0.1:5432/db)")
        raise UsageError(f"cannot open Optuna storage {mask_credentials(url)}: {reason[:200]}; {hint}") from None


def tracker_for(uri: str | None, runs_dir: Path = DEFAULT_RUNS_DIR) -> Tracker:
    """The embedded MLflow store under runs_dir, or the given tracking URI (checked to answer)."""
    # Fail fast on an unreachable server instead of MLflow's minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    if uri is None:
        tracker = Tracker.embedded(runs_dir)
    elif uri.startswith(("http://", "https://", "databricks")):
        tracker = Tracker(uri)  # the server decides where artifacts go
    else:  # a database backend: keep artifacts under runs_dir, not ./mlruns of the working directory
        tracker = Tracker(uri, (Path(runs_dir).resolve() / "mlartifacts").as_uri())
    try:
        tracker.client.search_experiments(max_results=1)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot reach MLflow tracking at {mask_credentials(tracker.uri)}: {reason[:200]}; "
                         "start it with `make server` or leave TRACKING unset for the embedded store") from None
    return tracker


def silence_optuna() -> None:
    """Our progress bar and summary replace Optuna's per-trial log lines."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
