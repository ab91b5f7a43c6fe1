"""A per-problem job lock, so two overlapping scheduled jobs of the same problem never race."""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pipeline.errors import UsageError


@contextmanager
def job_lock(runs_dir: Path, name: str) -> Iterator[Path]:
    """Hold an exclusive, non-blocking lock on runs_dir/locks/<name>.lock; refuse if held.

    The OS releases the lock when the process dies, so a killed job never leaves a stale lock.
    """
    folder = Path(runs_dir) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UsageError(f"another '{name}' job is running ({holder}); try again when it has finished") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
    handle.flush()
    try:
        yield path
    finally:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
