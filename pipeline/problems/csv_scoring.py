"""Scoring the csv problem's forecasts in the series' own units: RMSE and MAE (and per step, for a horizon
over 1), against the naive forecast (skill) and the training part's naive error (MASE); the test part's
baselines and forecasts as levels, for the report. A mixin of CsvSeries (csv_series.py)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import root_mean_squared_error

from pipeline.problems.base import regression_scores
from pipeline.problems.forecast_baselines import Baselines, baselines, detect_season, naive_forecast, skill


class ForecastScoring:
    """Needs from CsvSeries: params, scale, shift, target_index, values, dates, _bounds, decode_y."""

    forecasts = True  # the report keeps its candidates' test forecasts (pipeline/report/candidates.py)
    custom_evaluate = True  # scores in the series' own units (inverse-transformed)

    def _target_units(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(scaled, float) * self.scale[self.target_index] + self.shift[self.target_index]

    def _errors(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Errors in original units; with differencing, level errors accumulate over the horizon."""
        err = (np.asarray(y_pred, float) - np.asarray(y_true, float)) * self.scale[self.target_index]
        return np.cumsum(err, axis=1) if self.params["difference"] else err

    def naive_errors(self, x: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """Errors in original units of the naive forecast (forecast_baselines.naive_forecast) of windows x."""
        truth = self._target_units(y_true)
        if self.params["difference"]:  # levels relative to the last observed one, which is 0
            return naive_forecast(np.zeros(len(truth)), truth.shape[1]) - np.cumsum(truth, axis=1)
        last = self._target_units(np.asarray(x)[:, -1, self.target_index])
        return naive_forecast(last, truth.shape[1]) - truth

    def scores(self, y_true, y_pred, x=None):
        """rmse and mae in original units (rmse_step<k> per step ahead when horizon > 1); with the inputs x
        also naive_rmse, skill = 1 - rmse/naive_rmse and MASE (mae over the training part's naive MAE)."""
        err = self._errors(y_true, y_pred)
        scores = regression_scores(np.zeros_like(err), err)
        if err.shape[1] > 1:
            per_step = root_mean_squared_error(np.zeros_like(err), err, multioutput="raw_values")
            scores |= {f"rmse_step{k}": float(v) for k, v in enumerate(per_step, start=1)}
        if x is not None:
            scores["naive_rmse"] = regression_scores(0, self.naive_errors(x, y_true))["rmse"]
            scores["skill"] = skill(scores["rmse"], scores["naive_rmse"])
            if hasattr(self, "values"):
                scores["mase"] = self.baselines().mase(scores["mae"])
        return scores

    def item_losses(self, y_true, y_pred):
        """Each test window's squared error in the series' own units (its mean over the horizon)."""
        return (self._errors(y_true, y_pred) ** 2).mean(axis=1)

    def evaluate(self, model, x, y, batch_size=256):
        return self.scores(y, model.predict(x, batch_size=batch_size, verbose=0), x=x)

    # -- the test part, for the report ------------------------------------------------------------
    def _test_origins(self) -> np.ndarray:
        """Row (in the file's time order) of the last observed value of each test window."""
        n_tr, n_va, _ = self._bounds()
        lags, horizon, d = self.params["lags"], self.params["horizon"], int(self.params["difference"])
        return np.arange(max(n_tr + n_va, lags), len(self.values) - d - horizon + 1) + d - 1

    def baselines(self) -> Baselines:
        """The naive and seasonal-naive baselines of the test windows and the training part's MASE scale."""
        if getattr(self, "_baselines", None) is None:
            season, note = detect_season(self.dates, self.params["season"])
            d = int(self.params["difference"])
            self._baselines = baselines(self.values[:, self.target_index], self._test_origins(),
                                        self.params["horizon"], self._bounds()[0] + d, season, note)
        return self._baselines

    def test_forecasts(self, y_pred: np.ndarray) -> np.ndarray:
        """A model's outputs for the test windows as levels in original units: (windows, horizon)."""
        last = self.values[self._test_origins(), self.target_index]
        return np.asarray(self.decode_y(np.asarray(y_pred), last), float)

    def test_dates(self):
        """The date of each test window's first forecast step (None without a date column)."""
        return None if self.dates is None else self.dates[self._test_origins() + 1]
