"""Quiet by default: what a user can do nothing about is not printed before the lines that matter.

TensorFlow's C++ start-up lines (absl, oneDNN, CPU features) go to /dev/null while TensorFlow is first
imported; its Python logger, absl's, known third-party warnings and MLflow's artifact download bars
are silenced. `lstm-tune -v` / `VERBOSE=1` (env LSTM_TUNE_VERBOSE=1, inherited by
worker processes) keeps them all.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from typing import Iterator

VERBOSE_ENV = "LSTM_TUNE_VERBOSE"
WARNINGS = (  # (message regex, category): third-party warnings with nothing for a user to do
    (r".*Heartbeat of storage.*", UserWarning),
    (r".*", DeprecationWarning),
    (r".*", FutureWarning),
)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null (C++ libraries write there directly), then back."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet() -> None:
    """Silence start-up noise in this process, unless verbose (idempotent)."""
    if verbose():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for message, category in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    if "tensorflow" not in sys.modules:
        with _stderr_silenced():
            import tensorflow  # noqa: F401  (its C++ start-up lines are the noise)
    import absl.logging
    import tensorflow as tf

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel(logging.ERROR)
