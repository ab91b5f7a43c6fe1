"""Dashboard stage: optuna-dashboard on the study storage (SQLite under runs/ or a database URL): history,
parallel coordinates, importances and the trial table of every study, live while studies run."""
from __future__ import annotations

from typing import Callable

from pipeline.settings import JobSettings
from tracking.tracker import mask_credentials


def dashboard(settings: JobSettings, host: str, port: int,
              echo: Callable[[str], None] = print) -> None:
    """Serve until interrupted (one process, optuna-dashboard's own server)."""
    from optuna_dashboard import run_server

    storage = settings.study_storage()
    echo(f"optuna-dashboard for {mask_credentials(storage.url)} at http://{host}:{port}/ (Ctrl-C stops it)")
    run_server(storage, host=host, port=port)
