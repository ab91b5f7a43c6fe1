"""Helpers shared by tests: a tiny search space, fresh PostgreSQL databases, and waiting for a CLI
subprocess's running trial."""
import sqlite3
import time
from contextlib import closing, contextmanager

import optuna
import pytest

# A search space small enough for end-to-end tune tests.
TINY_SPACE = """
extends: common
params:
  units: {type: int, low: 4, high: 16}
  batch_size: {type: categorical, choices: [16, 32]}
  epochs: 2
  patience: 1
"""


def wait_for_running_trial(storage: str, study_name: str, proc, min_number: int = 0, timeout: float = 240) -> int:
    """The number of a trial that is running (with its MLflow run started) once one appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if storage.startswith("sqlite:///") and not _schema_ready(storage[len("sqlite:///"):]):
                raise LookupError("the process has not created the storage yet")  # don't race it to
            study = optuna.load_study(study_name=study_name, storage=storage)
            running = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING
                       and t.number >= min_number and "mlflow_run_id" in t.user_attrs]
        except Exception:  # the database or the study does not exist yet
            running = []
        if running:
            return running[0].number
        time.sleep(0.2)
    raise AssertionError(f"no running trial appeared: {proc.stdout.read()[-2000:] if proc.poll() is not None else ''}")


def _schema_ready(path: str) -> bool:
    """Whether Optuna finished creating its SQLite schema at `path` (read-only: never creates it)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return bool(db.execute("SELECT count(*) FROM alembic_version").fetchone()[0])
    except sqlite3.Error:
        return False


def tiny_data(name: str):
    """(problem, train, validation) of a problem at its tiny test size (conftest.TINY), data seed 0."""
    from conftest import TINY
    from pipeline.problems import get_problem

    sizes = {k: v for k, v in TINY[name].items() if k.startswith("n_")}
    problem = get_problem(name)
    splits = problem.splits(seed=0, **sizes)
    return problem, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val)


@contextmanager
def postgres(prefix: str):
    """Two fresh PostgreSQL databases, (Optuna's URL, MLflow's URL), dropped afterwards; the test is skipped
    when no server answers at 127.0.0.1:5432."""
    psycopg = pytest.importorskip("psycopg")
    from bench.pg import fresh_databases

    databases = fresh_databases(prefix)
    try:
        storage, tracking = databases.__enter__()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {str(exc).splitlines()[0]}")
    try:
        yield storage, tracking
    finally:
        databases.__exit__(None, None, None)
