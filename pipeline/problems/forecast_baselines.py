"""Forecast baselines in a series' own units: the naive forecast (the last value, repeated) and the
seasonal-naive one (the value one season earlier), their errors per step, skill and the MASE scale.

The season is `season=`, or detected from the date column's frequency (monthly 12, quarterly 4, weekly 52,
daily 7, business daily 5, hourly 24); each function that decides says how, in a sentence.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

# Periods per cycle for a date frequency (pandas offset prefix): the season a forecaster would assume.
SEASONS = {"MS": 12, "ME": 12, "BMS": 12, "BME": 12, "QS": 4, "QE": 4, "BQS": 4, "BQE": 4, "W": 52,
           "D": 7, "B": 5, "h": 24}


def detect_season(dates: pd.DatetimeIndex | None, given: int | None = None) -> tuple[int | None, str]:
    """(season, the sentence saying where it came from): `given`, else the dates' regular frequency."""
    if given is not None:
        return given, f"season {given} (season={given})"
    if dates is None or len(dates) < 3:
        return None, "no season: the file has no date column (give season=)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces that infer_freq will return an offset
        freq = pd.infer_freq(dates)
    if freq is None:
        return None, "no season: the dates are not evenly spaced (give season=)"
    offset = pd.tseries.frequencies.to_offset(freq)
    prefix = offset.rule_code.split("-")[0]
    season = SEASONS.get(prefix) if offset.n == 1 else None
    if prefix == "h" and 24 % offset.n == 0:
        season = 24 // offset.n
    if season is None:
        return None, f"no season for date frequency '{offset.freqstr}' (give season=)"
    return season, f"season {season} (date frequency '{offset.freqstr}')"


def naive_forecast(last: np.ndarray, horizon: int) -> np.ndarray:
    """The last observed value of each window, for every step ahead: shape (windows, horizon)."""
    return np.repeat(np.asarray(last, float)[:, None], horizon, axis=1)


def skill(rmse: float, reference_rmse: float) -> float:
    """1 - rmse / reference_rmse: 1 is perfect, 0 as good as the reference, negative worse (0 if it is 0)."""
    return 1.0 - rmse / reference_rmse if reference_rmse > 0 else 0.0


@dataclass(frozen=True)
class Baseline:
    """A baseline's forecasts and the truth over the test windows, in the series' units."""

    name: str
    forecast: np.ndarray  # (windows, horizon)
    truth: np.ndarray  # (windows, horizon)

    @property
    def rmse(self) -> float:
        return float(root_mean_squared_error(self.truth.ravel(), self.forecast.ravel()))

    @property
    def mae(self) -> float:
        return float(mean_absolute_error(self.truth.ravel(), self.forecast.ravel()))

    @property
    def rmse_per_step(self) -> list[float]:
        return root_mean_squared_error(self.truth, self.forecast, multioutput="raw_values").tolist()


@dataclass(frozen=True)
class Baselines:
    """The naive and (when the season is known and the history long enough) seasonal-naive baselines of
    the test windows, the MASE scale of the training part, and how the season was found."""

    naive: Baseline
    seasonal: Baseline | None
    season: int | None
    season_note: str
    mase_scale: float  # mean absolute (seasonal) naive one-step error over the training part

    def mase(self, mae: float) -> float:
        return mae / self.mase_scale if self.mase_scale > 0 else math.nan


def baselines(levels: np.ndarray, origins: np.ndarray, horizon: int, n_train: int, season: int | None,
              season_note: str) -> Baselines:
    """Baselines of the windows whose last observed row is `origins` (indices into `levels`, the target in
    its own units); the MASE scale from the first `n_train` levels (Hyndman & Koehler, 2006: seasonal
    differences when the season is known, else first differences)."""
    levels, origins = np.asarray(levels, float), np.asarray(origins, int)
    ahead = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    truth = levels[ahead]
    naive = Baseline("naive", naive_forecast(levels[origins], horizon), truth)
    seasonal = None
    if season is not None:
        back = ahead - season * np.ceil(np.arange(1, horizon + 1) / season).astype(int)[None, :]
        if back.min() >= 0:
            seasonal = Baseline(f"seasonal naive ({season})", levels[back], truth)
        else:
            season_note += "; too little history before the test part for a seasonal-naive forecast"
    lag = season if season is not None and n_train > season else 1
    train = levels[:n_train]
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag]))) if n_train > lag else math.nan
    return Baselines(naive, seasonal, season, season_note, scale)
