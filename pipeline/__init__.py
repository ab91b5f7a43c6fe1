"""lstm-tune: hyperparameter tuning and experiment tracking for LSTM sequence models."""
import os


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # not macOS


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's threads, read when it starts: one per op, as many ops at once as this process has cores
# (local workers split them: pipeline.search.workers). The models' ops are small (batch 32, tens of units):
# splitting each over the cores cost more than it saved, 1.5x per fused run on 2 cores (bench/results.md,
# "Threads"). Set either variable to choose otherwise.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(cores()))
