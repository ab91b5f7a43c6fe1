"""The user's own time series from a CSV file: windows of `lags` rows -> the next `horizon` target values.

Split in time order (train, validation, test), optionally differenced, scaled with coefficients fitted
on the training part only. Reading is csv_table.py's job, scoring against the naive and seasonal-naive
forecasts csv_scoring.py's, raw inputs and outputs csv_raw.py's.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from pipeline.errors import UsageError
from pipeline.problems.base import Problem, Splits, require, require_int
from pipeline.problems.csv_raw import RawWindows
from pipeline.problems.csv_scoring import ForecastScoring
from pipeline.problems.csv_table import read_table, table_error

SCALERS = {"minmax": MinMaxScaler, "standard": StandardScaler}
PARTS = ("training", "validation", "test")


class CsvSeries(ForecastScoring, RawWindows, Problem):
    name = "csv"
    description = "your time series: path=<file.csv> target=<column>; lags -> horizon, split in time order"
    defaults = {"path": None, "target": None, "lags": 12, "horizon": 1, "difference": False,
                "val_fraction": 0.15, "test_fraction": 0.15, "scaler": "minmax",
                "time": None, "features": None, "season": None}
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
        p["season"] = _season(p["season"])
        if isinstance(p["features"], str):  # features=a,b; features=none: the target alone
            p["features"] = [] if p["features"].lower() == "none" else [f for f in p["features"].split(",") if f]
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
        """Read the file (pipeline.problems.csv_table) and keep its input columns in time order."""
        p = self.params
        table = read_table(p["path"], p["target"], p["time"], p["features"])
        p["target"] = table.target
        self.values, self.columns, self.target_index = table.values, table.columns, table.target_index
        self.date_range, self.ignored, self.dates, self.notes = table.date_range, table.ignored, table.dates, table.notes
        self._baselines = None

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
        if getattr(self, "notes", None):
            out["order"] = "; ".join(self.notes)
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
        problem.date_range, problem.dates = prep.get("date_range"), None
        return problem


def _season(value) -> int | None:
    """season= as an integer >= 2 (None: detect it from the dates)."""
    if value in (None, "", "auto"):
        return None
    try:
        season = int(value)
    except (TypeError, ValueError):
        season = 0
    require(season >= 2 and str(value).strip().lstrip("+").isdigit(), "csv",
            f"season must be an integer >= 2, the periods per cycle (got {value!r})")
    return season
