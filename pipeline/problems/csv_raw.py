"""Raw inputs and outputs of the csv problem: the last `lags` rows in original units -> model input, and
forecasts back to original units (levels, also when differenced). A mixin of CsvSeries (csv_series.py)."""
from __future__ import annotations

import json

import numpy as np

from pipeline.errors import UsageError


class RawWindows:
    """Needs from CsvSeries: params, columns, target_index, scale, shift, input_shape, _scale, _target_units."""

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
        """Model inputs as the raw windows predict_raw takes, in original units. Differenced: lags + 1 levels
        relative to the window's first (the model sees only their changes, which any first level gives)."""
        values = np.asarray(x, float) * np.asarray(self.scale) + np.asarray(self.shift)
        if self.params["difference"]:
            values = np.concatenate([np.zeros_like(values[:, :1]), np.cumsum(values, axis=1)], axis=1)
        return [np.round(row, 6).tolist() for row in values]

    def decode_y(self, y, levels: np.ndarray | None = None):
        """Forecasts in original units. Differenced: accumulated changes, or levels when the windows' last
        levels (from encode_windows) are given."""
        values = self._target_units(np.asarray(y).reshape(len(y), -1))
        if self.params["difference"]:
            values = np.cumsum(values, axis=1)
            if levels is not None:
                values = values + np.asarray(levels, float)[:, None]
        return [np.round(row, 6).tolist() for row in values]
