"""The user's own time series from a CSV file: windows of `lags` rows -> the next `horizon` target values.

Split in time order (train, validation, test), optionally differenced, scaled with coefficients fitted
on the training part only; metrics in original units, next to the naive last-value forecast.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from pipeline.errors import UsageError
from pipeline.problems.base import Problem, Splits, regression_scores, require, require_int
from pipeline.problems.csv_table import read_table, table_error

SCALERS = {"minmax": MinMaxScaler, "standard": StandardScaler}
PARTS = ("training", "validation", "test")


class CsvSeries(Problem):
    name = "csv"
    description = "your time series: path=<file.csv> target=<column>; lags -> horizon, split in time order"
    defaults = {"path": None, "target": None, "lags": 12, "horizon": 1, "difference": False,
                "val_fraction": 0.15, "test_fraction": 0.15, "scaler": "minmax"}
    loss = "mse"
    output_activation = "linear"
    metric = "rmse"
    direction = "minimize"
    relative_margin = 0.02  # equivalence margin: 2% of the best RMSE (the series' units vary)

    def validate(self) -> None:
        p = self.params
        require_int(self.name, p, "lags", 1)
        require_int(self.name, p, "horizon", 1)
        for key in ("val_fraction", "test_fraction"):
            require(isinstance(p[key], (int, float)) and 0 < p[key] < 0.5, self.name,
                    f"{key} must be a number in (0, 0.5) (got {p[key]!r})")
        require(isinstance(p["difference"], (bool, np.bool_)), self.name,
                f"difference must be true or false (got {p['difference']!r})")
        require(p["scaler"] in SCALERS, self.name, f"scaler must be one of {', '.join(SCALERS)} (got {p['scaler']!r})")
        if getattr(self, "_restored", False):
            return
        if p["path"] is None:
            raise UsageError("problem 'csv' needs path=<file.csv> (and optionally target=<column>), "
                             "e.g. DATA=\"path=my.csv target=sales\"")
        self._read()
        self._check_rows()
        self._fit()

    # -- reading -----------------------------------------------------------------------------
    def _read(self) -> None:
        """Read the file (pipeline.problems.csv_table) and keep its numeric columns in time order."""
        table = read_table(self.params["path"], self.params["target"])
        self.params["target"] = table.target
        self.values, self.columns, self.target_index = table.values, table.columns, table.target_index
        self.date_range, self.ignored = table.date_range, table.ignored

    def _bounds(self, rows: int | None = None) -> tuple[int, int, int]:
        """Row counts (after differencing) of the training, validation and test parts, in time order."""
        n = (len(self.values) if rows is None else rows) - int(self.params["difference"])
        n_test = round(n * self.params["test_fraction"])
        n_val = round(n * self.params["val_fraction"])
        return n - n_val - n_test, n_val, n_test

    def _too_few(self, rows: int | None = None) -> str | None:
        """Which part has too few rows for one window (two for training), or None when all have enough."""
        lags, horizon = self.params["lags"], self.params["horizon"]
        minimum = (lags + horizon + 1, horizon, horizon)  # later parts may look back into earlier ones
        for part, count, need in zip(PARTS, self._bounds(rows), minimum):
            if count < need:
                return f"the {part} part gets {max(count, 0)} rows, needs at least {need}"
        return None

    def _check_rows(self) -> None:
        problem = self._too_few()
        if problem:
            p = self.params
            rows = len(self.values)
            while self._too_few(rows):
                rows += 1
            raise table_error(p["path"], f"{len(self.values)} rows are too few for lags={p['lags']} and "
                              f"horizon={p['horizon']} ({problem}); need about {rows} rows")

    def _series(self) -> np.ndarray:
        return np.diff(self.values, axis=0) if self.params["difference"] else self.values

    def _fit(self) -> None:
        """Fit the scaler on the training part: scaled = (value - shift) / scale, per column."""
        scaler = SCALERS[self.params["scaler"]]().fit(self._series()[:self._bounds()[0]])
        if self.params["scaler"] == "minmax":  # shift = data min, scale = data range (1 where constant)
            self.scale = (1.0 / scaler.scale_).tolist()
            self.shift = (-scaler.min_ / scaler.scale_).tolist()
        else:  # shift = mean, scale = standard deviation (1 where constant)
            self.scale, self.shift = scaler.scale_.tolist(), scaler.mean_.tolist()

    # -- shapes ------------------------------------------------------------------------------
    @property
    def input_shape(self):
        return (self.params["lags"], len(self.columns))

    @property
    def output_shape(self):
        return (self.params["horizon"],)

    def generate(self, n, rng):
        raise UsageError("problem 'csv' reads its data from the file; it has no generator")

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if getattr(self, "date_range", None):
            out["date_range"] = " to ".join(self.date_range)
        if getattr(self, "ignored", None):
            out["ignored_columns"] = ", ".join(self.ignored)
        return out

    # -- splits and preprocessing --------------------------------------------------------------
    def splits(self, seed: int = 0, n_train=None, n_val=None, n_test=None) -> Splits:
        """Windows of each part in time order (seed and counts are ignored: the data is the file).

        A window's targets lie in one part; its inputs may look back into the previous part."""
        if not hasattr(self, "values"):  # restored from a saved state: keep its fitted scaler
            self._read()
            self._check_rows()
        scaled = self._scale(self._series())
        n_tr, n_va, _ = self._bounds()
        arrays = []
        for start, end in ((0, n_tr), (n_tr, n_tr + n_va), (n_tr + n_va, len(scaled))):
            arrays.extend(self._windows(scaled, start, end))
        return Splits(*arrays)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        return ((values - np.asarray(self.shift)) / np.asarray(self.scale)).astype(np.float32)

    def _windows(self, scaled: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples whose targets start in rows [start, end - horizon]: inputs the `lags` rows before."""
        lags, horizon = self.params["lags"], self.params["horizon"]
        idx = np.arange(max(start, lags), end - horizon + 1)
        x = sliding_window_view(scaled, lags, axis=0)[idx - lags].transpose(0, 2, 1)
        y = sliding_window_view(scaled[:, self.target_index], horizon)[idx]
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

    def _target_units(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(scaled, float) * self.scale[self.target_index] + self.shift[self.target_index]

    def _errors(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Errors in original units; with differencing, level errors accumulate over the horizon."""
        err = (np.asarray(y_pred, float) - np.asarray(y_true, float)) * self.scale[self.target_index]
        return np.cumsum(err, axis=1) if self.params["difference"] else err

    def naive_errors(self, x: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """Errors in original units of the naive forecast: the last observed value, repeated."""
        truth = self._target_units(y_true)
        if self.params["difference"]:  # no change: the level error is minus the accumulated change
            return -np.cumsum(truth, axis=1)
        return self._target_units(np.asarray(x)[:, -1, self.target_index])[:, None] - truth

    def scores(self, y_true, y_pred, x=None):
        """rmse and mae in original units; with the inputs x also naive_rmse and skill = 1 - rmse/naive_rmse."""
        err = self._errors(y_true, y_pred)
        scores = regression_scores(np.zeros_like(err), err)
        if x is not None:
            scores["naive_rmse"] = regression_scores(0, self.naive_errors(x, y_true))["rmse"]
            scores["skill"] = 1.0 - scores["rmse"] / scores["naive_rmse"] if scores["naive_rmse"] > 0 else 0.0
        return scores

    def evaluate(self, model, x, y, batch_size=256):
        return self.scores(y, model.predict(x, batch_size=batch_size, verbose=0), x=x)

    def preprocessing(self) -> dict[str, Any]:
        """The fitted preprocessing (JSON-serialisable): enough to predict from raw values without the file."""
        p = self.params
        return {"scaler": p["scaler"], "shift": list(self.shift), "scale": list(self.scale),
                "columns": list(self.columns), "target": p["target"], "target_index": self.target_index,
                "lags": p["lags"], "horizon": p["horizon"], "difference": bool(p["difference"]),
                "date_range": self.date_range}

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "preprocessing": self.preprocessing()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CsvSeries:
        """Rebuild from a saved state without reading the file (for prediction); reread it when there is none."""
        if "preprocessing" not in state:
            return cls(**state["params"])
        problem = cls.__new__(cls)
        problem._restored = True
        Problem.__init__(problem, **state["params"])
        prep = state["preprocessing"]
        problem.columns, problem.target_index = list(prep["columns"]), int(prep["target_index"])
        problem.shift, problem.scale = list(prep["shift"]), list(prep["scale"])
        problem.date_range = prep.get("date_range")
        return problem

    # -- raw input and output ------------------------------------------------------------------
    def encode_windows(self, raw) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw windows in original units -> (model input, the last target level of each window or None).

        Each window is the last `lags` rows (lags + 1 when differenced), a row being one number (one column)
        or the columns' values: JSON strings, nested lists, an array (n, rows, columns) or one window.
        The last levels (differencing only) turn forecast changes back into levels in decode_y."""
        need, width = self.params["lags"] + int(self.params["difference"]), len(self.columns)
        if isinstance(raw, np.ndarray) and raw.ndim <= 2 and raw.size == need * width and \
                (raw.ndim < 2 or raw.shape[0] == need):
            raw = [raw]  # one window
        rows, levels = [], []
        for item in raw:
            try:
                arr = np.asarray(json.loads(item) if isinstance(item, str) else item, dtype=float)
            except (ValueError, TypeError):
                raise UsageError(f"problem 'csv': input {str(item)[:60]!r} is not a JSON list of numbers") from None
            if arr.ndim == 1:
                arr = arr.reshape(len(arr), -1) if width == 1 else arr.reshape(1, -1)
            if arr.shape != (need, width):
                raise UsageError(f"problem 'csv': each input needs {need} rows of {width} value(s) "
                                 f"({', '.join(self.columns)}); got shape {arr.shape}")
            if not np.isfinite(arr).all():
                raise UsageError(f"problem 'csv': input {str(item)[:60]!r} has missing or infinite values")
            if self.params["difference"]:
                levels.append(arr[-1, self.target_index])
                arr = np.diff(arr, axis=0)
            rows.append(self._scale(arr))
        x = np.stack(rows) if rows else np.zeros((0, *self.input_shape), np.float32)
        return x, (np.asarray(levels) if self.params["difference"] else None)

    def encode_x(self, raw):
        return self.encode_windows(raw)[0]

    def predict_raw(self, model, raw) -> list[str]:
        """Forecasts in original units (levels, also when differenced) for raw windows."""
        x, levels = self.encode_windows(raw)
        return [str(v) for v in self.decode_y(model.predict(x, verbose=0), levels)]

    def decode_x(self, x):
        """Inputs in original units (changes, when differenced)."""
        return [np.round(np.asarray(row) * np.asarray(self.scale) + np.asarray(self.shift), 6).tolist()
                for row in np.asarray(x)]

    def decode_y(self, y, levels: np.ndarray | None = None):
        """Forecasts in original units. Differenced: accumulated changes, or levels when the windows' last
        levels (from encode_windows) are given."""
        values = self._target_units(np.asarray(y).reshape(len(y), -1))
        if self.params["difference"]:
            values = np.cumsum(values, axis=1)
            if levels is not None:
                values = values + np.asarray(levels, float)[:, None]
        return [np.round(row, 6).tolist() for row in values]
