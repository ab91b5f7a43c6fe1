"""Which MLflow store a command logs to: the embedded one under runs/, or a user's URI, checked up front."""
from __future__ import annotations

import os
from pathlib import Path

from tracking.outbox import outbox_dir
from tracking.tracker import Tracker, mask_credentials


class TrackingUnreachable(Exception):
    """The tracking URI does not answer; the message is one line for the user."""


# Once a server has answered, MLflow retries each request 4 times, after 0, 2, 4, 8 s (urllib3 backoff),
# before a trial's logging waits in runs/outbox/ (tracking.outbox); LSTM_TUNE_TRACKING_RETRIES changes the count.
RETRIES = os.environ.get("LSTM_TUNE_TRACKING_RETRIES", "4")
BACKOFF = os.environ.get("LSTM_TUNE_TRACKING_BACKOFF", "1")  # whole seconds (MLflow reads an int)


def open_tracker(uri: str | None, runs_dir: Path) -> Tracker:
    """The embedded MLflow store under runs_dir, or the given tracking URI (checked to answer)."""
    # Fail fast on an unreachable server instead of MLflow's minutes of retries; retry once it answered.
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
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
        raise TrackingUnreachable(f"cannot reach MLflow tracking at {mask_credentials(tracker.uri)}: "
                                  f"{reason[:200]}; start it with `make server` or leave TRACKING unset for the "
                                  "embedded store") from None
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES=RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=BACKOFF)
    tracker.outbox = outbox_dir(runs_dir)
    return tracker
