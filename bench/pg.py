"""Fresh PostgreSQL databases for the distributed tests and the workers benchmark."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

PG = dict(host="127.0.0.1", port=5432, user="postgres")


# A tiny search space for studies that several workers share (bench/chaos.py, tests/test_distributed.py).
WORKER_SPACE = """
extends: common
params:
  units: {type: int, low: 4, high: 16}
  batch_size: 32
  epochs: 2
  patience: 1
"""


@contextmanager
def fresh_databases(prefix: str, kinds: tuple[str, ...] = ("optuna", "mlflow")) -> Iterator[list[str]]:
    """Create one empty database per kind, yield their URLs, drop them afterwards.

    Raises psycopg.OperationalError when no server answers at 127.0.0.1:5432.
    """
    import psycopg

    admin = psycopg.connect(dbname="postgres", connect_timeout=3, autocommit=True, **PG)
    names = [f"{prefix}_{kind}_{uuid.uuid4().hex[:8]}" for kind in kinds]
    try:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f"CREATE DATABASE {name}")
        yield [f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}" for name in names]
    finally:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
