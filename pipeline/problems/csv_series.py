"""The user's own time series from a CSV file: windows of lags -> the next `horizon` target values.

Split in time order, optionally differenced, scaled with coefficients fitted on the training part
only; metrics in original units, next to the naive last-value forecast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from pipeline.errors import UsageError
from pipeline.problems.base import Problem, Splits, regression_scores, require

SCALERS = {"minmax": MinMaxScaler, "standard": StandardScaler}


class CsvSeries(Problem):
    name = "csv"
    description = "your time series: path=<file.csv> target=<column>; lags -> horizon, split in time order"
    defaults = {"path": None, "target": None, "lags": 12, "horizon": 1, "difference": False,
                "val_fraction": 0.15, "test_fraction": 0.15, "scaler": "minmax"}
    loss = "mse"
    output_activation = "linear"
    metric = "rmse"
    direction = "minimize"

    def validate(self) -> None:
        p = self.params
        for key in ("lags", "horizon"):
            p[key] = int(p[key])
            require(p[key] >= 1, self.name, f"{key} must be >= 1")
        for key in ("val_fraction", "test_fraction"):
            p[key] = float(p[key])
            require(0 < p[key] < 0.5, self.name, f"{key} must be in (0, 0.5)")
        if isinstance(p["difference"], str):
            p["difference"] = p["difference"].lower() in ("1", "true", "yes")
        require(p["scaler"] in SCALERS, self.name, f"scaler must be one of {', '.join(SCALERS)}")
        if getattr(self, "_restored", False):
            return
        require(p["path"] is not None, self.name, "needs path=<file.csv> (DATA=\"path=my.csv target=column\")")
        self._load(Path(p["path"]))

    # -- reading ---------------------------------------------------------------------------
    def _fail(self, message: str) -> UsageError:
        return UsageError(f"problem 'csv': {self.params['path']}: {message}")

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise self._fail("file not found")
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise self._fail("the file is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise self._fail(f"not a readable CSV ({str(exc).splitlines()[0][:120]})") from None
        if frame.empty:
            raise self._fail("the file has a header but no rows")
        date_col = None
        numeric = []
        for col in frame.columns:
            series = frame[col]
            if pd.api.types.is_numeric_dtype(series):
                numeric.append(col)
                continue
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
            if date_col is None and parsed.notna().mean() > 0.95:
                date_col, frame[col] = col, parsed
                continue
            bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
            raise self._fail(f"column '{col}' is not numeric (e.g. {str(bad.iloc[0])[:30]!r} in row "
                             f"{int(bad.index[0]) + 2})")
        if not numeric:
            raise self._fail("no numeric column")
        target = self.params["target"] or numeric[-1]
        if target not in numeric:
            raise self._fail(f"target column '{target}' not found; numeric columns: {', '.join(map(str, numeric))}")
        for col in numeric:
            gaps = int(frame[col].isna().sum())
            if gaps:
                raise self._fail(f"column '{col}' has {gaps} missing value(s) (NaN gaps); fill or drop them first")
        if date_col is not None:
            frame = frame.sort_values(date_col)
            self.date_range = (str(frame[date_col].iloc[0]), str(frame[date_col].iloc[-1]))
        else:
            self.date_range = None
        self.params["target"] = target
        self.columns = [str(c) for c in numeric]
        self.target_index = self.columns.index(str(target))
        self.values = frame[numeric].to_numpy(dtype=np.float64)
        self._check_rows()

    def _bounds(self) -> tuple[int, int, int]:
        """Row counts (after differencing) of the train / validation / test parts, in time order."""
        n = len(self.values) - int(self.params["difference"])
        n_test = int(round(n * self.params["test_fraction"]))
        n_val = int(round(n * self.params["val_fraction"]))
        return n - n_val - n_test, n_val, n_test

    def _check_rows(self) -> None:
        lags, horizon = self.params["lags"], self.params["horizon"]
        n_train, n_val, n_test = self._bounds()
        if n_train < lags + horizon + 1 or min(n_val, n_test) < horizon:
            need = int(np.ceil((lags + horizon + 1) / (1 - self.params["val_fraction"] - self.params["test_fraction"])))
            raise self._fail(f"{len(self.values)} rows are too few for lags={lags} and horizon={horizon}; "
                             f"need about {need}")

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
        return out

    # -- splits and preprocessing --------------------------------------------------------------
    def splits(self, seed: int = 0, n_train=None, n_val=None, n_test=None) -> Splits:
        """Windows of each part in time order; a part's windows may look back into the previous part."""
        series = np.diff(self.values, axis=0) if self.params["difference"] else self.values
        n_tr, n_va, _ = self._bounds()
        scaler = SCALERS[self.params["scaler"]]().fit(series[:n_tr])
        if self.params["scaler"] == "minmax":
            self.scale = (1.0 / scaler.scale_).tolist()
            self.shift = (-scaler.min_ / scaler.scale_).tolist()
        else:
            self.scale, self.shift = scaler.scale_.tolist(), scaler.mean_.tolist()
        scaled = self._scale(series)
        parts = [(0, n_tr), (n_tr, n_tr + n_va), (n_tr + n_va, len(series))]
        arrays = []
        for start, end in parts:
            arrays.extend(self._windows(scaled, start, end))
        return Splits(*arrays)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        return ((values - np.asarray(self.shift)) / np.asarray(self.scale)).astype(np.float32)

    def _windows(self, scaled: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples whose targets lie in rows [start, end): inputs the `lags` rows before each target."""
        lags, horizon = self.params["lags"], self.params["horizon"]
        first = max(start, lags)
        idx = np.arange(first, end - horizon + 1)
        x = np.stack([scaled[i - lags:i] for i in idx])
        y = np.stack([scaled[i:i + horizon, self.target_index] for i in idx])
        return x, y

    def _target_units(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(scaled, float) * self.scale[self.target_index] + self.shift[self.target_index]

    def _errors(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Errors in original units; with differencing, level errors accumulate over the horizon."""
        err = (np.asarray(y_pred, float) - np.asarray(y_true, float)) * self.scale[self.target_index]
        return np.cumsum(err, axis=1) if self.params["difference"] else err

    def scores(self, y_true, y_pred):
        err = self._errors(y_true, y_pred)
        return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}

    def evaluate(self, model, x, y, batch_size=256):
        scores = super().evaluate(model, x, y, batch_size)
        truth = self._target_units(y)
        if self.params["difference"]:  # the naive forecast predicts no change
            naive_err = -np.cumsum(truth, axis=1)
        else:  # the naive forecast repeats the last observed value
            naive_err = self._target_units(x[:, -1, self.target_index])[:, None] - truth
        naive = regression_scores(np.zeros_like(naive_err), naive_err)
        scores["naive_rmse"] = naive["rmse"]
        scores["skill"] = 1.0 - scores["rmse"] / naive["rmse"] if naive["rmse"] > 0 else 0.0
        return scores

    # -- raw input and output ------------------------------------------------------------------
    def encode_x(self, raw):
        """Raw windows in original units: JSON lists of the last `lags` rows (lags + 1 when differenced),
        each row a number (one column) or a list of the columns' values."""
        import json

        rows, self._base = [], []
        need = self.params["lags"] + int(self.params["difference"])
        for item in raw:
            try:
                arr = np.asarray(json.loads(item) if isinstance(item, str) else item, dtype=float)
            except (ValueError, TypeError):
                raise UsageError(f"problem 'csv': input {item!r} is not a JSON list of numbers") from None
            arr = arr.reshape(len(arr), -1) if arr.ndim else arr
            if arr.ndim != 2 or arr.shape != (need, len(self.columns)):
                raise UsageError(f"problem 'csv': each input needs {need} rows of {len(self.columns)} value(s) "
                                 f"({', '.join(self.columns)}); got shape {arr.shape}")
            if self.params["difference"]:
                self._base.append(arr[-1, self.target_index])
                arr = np.diff(arr, axis=0)
            rows.append(self._scale(arr))
        return np.stack(rows)

    def decode_x(self, x):
        return [np.round(np.asarray(row) * np.asarray(self.scale) + np.asarray(self.shift), 6).tolist()
                for row in np.asarray(x)]

    def decode_y(self, y):
        """Forecasts in original units (levels after encode_x of levels; changes otherwise when differenced)."""
        values = self._target_units(y)
        if self.params["difference"]:
            values = np.cumsum(values, axis=1)
            base = getattr(self, "_base", [])
            if len(base) == len(values):
                values = values + np.asarray(base)[:, None]
        return [np.round(row, 6).tolist() for row in values]

    def state(self) -> dict[str, Any]:
        if not hasattr(self, "scale"):
            self.splits()
        return {"name": self.name, "params": dict(self.params),
                "preprocessing": {"columns": self.columns, "target_index": self.target_index, "scale": self.scale,
                                  "shift": self.shift, "date_range": getattr(self, "date_range", None)}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "CsvSeries":
        """Rebuild from a saved state without the file (for prediction); or reread the file if none."""
        if "preprocessing" not in state:
            return cls(**state["params"])
        problem = cls.__new__(cls)
        problem._restored = True
        Problem.__init__(problem, **state["params"])
        for key, value in state["preprocessing"].items():
            setattr(problem, key, value)
        return problem
