"""Shared fixtures: tiny problem sizes so every test trains in seconds."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

# Per-problem parameters and sizes that keep end-to-end tests fast.
TINY = {
    "echo": {"n_train": 64, "n_val": 32, "n_test": 32},
    "damped_sine": {"n_train": 64, "n_val": 32, "n_test": 32, "length": 20},
    "moving_square": {"n_train": 16, "n_val": 8, "n_test": 8, "size": 8},
    "addition": {"n_train": 64, "n_val": 32, "n_test": 32},
    "cumulative_sum": {"n_train": 64, "n_val": 32, "n_test": 32},
    "shape_generation": {"n_train": 63, "n_val": 30, "n_test": 30},
    "recall": {"n_train": 64, "n_val": 32, "n_test": 32, "length": 10, "symbols": 6},
}


@pytest.fixture
def series_csv(tmp_path):
    """A small seasonal time series with a date column."""
    import numpy as np
    import pandas as pd

    n = 240
    t = np.arange(n)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"),
                       "load": 10 + 0.05 * t + np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.1, n)})
    path = tmp_path / "series.csv"
    df.to_csv(path, index=False)
    return path
