"""Forecast baselines and what forecasters expect of the csv loader: the naive and seasonal-naive forecasts
(season given or detected from the dates), skill, MASE and errors per step; the winner against the naive
forecast (one-sample test); date column, time=, features=, duplicated and unsorted timestamps."""
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UsageError
from pipeline.problems import get_problem, problem_from_state
from pipeline.problems.forecast_baselines import baselines, detect_season
from pipeline.report.forecast import judge


def monthly(tmp_path, n=120, **columns):
    t = np.arange(n)
    frame = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"),
                          "y": 100 + t + 10 * np.sin(2 * np.pi * t / 12), **columns})
    path = tmp_path / "monthly.csv"
    frame.to_csv(path, index=False)
    return path, frame


class Fixed:
    """A model that answers the given outputs, whatever it is asked."""

    def __init__(self, outputs):
        self.outputs = outputs

    def predict(self, x, batch_size=None, verbose=0):
        return self.outputs


@pytest.mark.parametrize("freq,season", [("MS", 12), ("ME", 12), ("QS", 4), ("W", 52), ("D", 7), ("B", 5),
                                         ("h", 24), ("6h", 4)])
def test_the_season_is_detected_from_the_date_frequency(freq, season):
    found, note = detect_season(pd.date_range("2020-01-01", periods=30, freq=freq))
    assert found == season and f"season {season} (date frequency" in note


def test_without_a_regular_frequency_there_is_no_season_unless_given():
    uneven = pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-05", "2020-01-06"])
    assert detect_season(uneven) == (None, "no season: the dates are not evenly spaced (give season=)")
    assert detect_season(None)[0] is None and "no date column" in detect_season(None)[1]
    assert detect_season(pd.date_range("2020", periods=5, freq="YS"))[0] is None
    assert detect_season(uneven, 3) == (3, "season 3 (season=3)")


def test_naive_and_seasonal_naive_errors_per_step():
    levels = np.array([0, 10, 0, 10, 0, 10, 1, 11, 1, 11.0])  # period 2, one step up at row 6
    b = baselines(levels, np.array([5, 6, 7]), 2, 6, 2, "season 2")
    assert np.array_equal(b.naive.truth, [[1, 11], [11, 1], [1, 11]])
    assert np.array_equal(b.naive.forecast, [[10, 10], [1, 1], [11, 11]])
    assert np.array_equal(b.seasonal.forecast, [[0, 10], [10, 1], [1, 11]])  # one season back, for each step
    assert b.naive.rmse_per_step == pytest.approx([np.sqrt((81 + 100 + 100) / 3), np.sqrt(1 / 3)])
    assert b.seasonal.rmse == pytest.approx(np.sqrt(3 / 6)) and b.seasonal.mae == pytest.approx(3 / 6)
    assert b.mase_scale == 0 and np.isnan(b.mase(1.0))  # a perfectly seasonal training part: no scale
    b = baselines(levels, np.array([1]), 1, 6, 4, "season 4")
    assert b.seasonal is None and "too little history" in b.season_note  # row 1 has no season before it
    assert baselines(levels, np.array([5]), 1, 6, None, "").mase_scale == pytest.approx(10)


def test_csv_scores_skill_mase_and_per_step_errors_in_units(tmp_path):
    path, frame = monthly(tmp_path)
    problem = get_problem("csv", path=str(path), lags=4, horizon=2)
    s, b = problem.splits(), problem.baselines()
    assert b.season == 12 and b.season_note == "season 12 (date frequency 'MS')"
    y = frame["y"].to_numpy()
    origins = np.arange(120 - 18, 120 - 2 + 1) - 1  # the test part's last 18 rows: 17 windows of 2 steps
    assert np.allclose(b.naive.truth, np.stack([y[origins + 1], y[origins + 2]], axis=1))
    assert b.seasonal.rmse == pytest.approx(12.0)  # the trend: 1 a month, 12 a year
    assert b.mase_scale == pytest.approx(12.0)
    assert list(problem.test_dates()[:2]) == list(frame["month"].iloc[origins[:2] + 1])

    perfect = problem.evaluate(Fixed(s.y_test), s.x_test, s.y_test)
    assert perfect["rmse"] == 0 and perfect["skill"] == 1 and perfect["mase"] == 0
    assert perfect["rmse_step1"] == perfect["rmse_step2"] == 0
    assert np.allclose(problem.test_forecasts(s.y_test), b.naive.truth, atol=1e-3)  # levels, original units
    naive = np.repeat(s.x_test[:, -1:, 0], 2, axis=1)
    scores = problem.evaluate(Fixed(naive), s.x_test, s.y_test)
    assert scores["rmse"] == pytest.approx(b.naive.rmse, rel=1e-5) == scores["naive_rmse"]
    assert [scores["rmse_step1"], scores["rmse_step2"]] == pytest.approx(b.naive.rmse_per_step, rel=1e-5)
    assert scores["skill"] == pytest.approx(0, abs=1e-6)
    assert scores["mase"] == pytest.approx(b.naive.mae / 12.0, rel=1e-5)


def test_differenced_forecasts_become_levels_and_share_the_baselines(tmp_path):
    path, frame = monthly(tmp_path)
    plain = get_problem("csv", path=str(path), lags=4, horizon=2).baselines()
    problem = get_problem("csv", path=str(path), lags=4, horizon=2, difference="true", season="12")
    s, b = problem.splits(), problem.baselines()
    assert b.season_note == "season 12 (season=12)"
    assert np.allclose(b.naive.truth, plain.naive.truth) and b.naive.rmse == pytest.approx(plain.naive.rmse)
    assert np.allclose(problem.test_forecasts(s.y_test), b.naive.truth, atol=1e-3)
    no_change = np.full_like(s.y_test, -problem.shift[0] / problem.scale[0])
    assert problem.evaluate(Fixed(no_change), s.x_test, s.y_test)["rmse"] == pytest.approx(b.naive.rmse, rel=1e-5)


def test_the_date_column_orders_rows_and_unsorted_or_duplicated_timestamps_say_so(tmp_path):
    path, frame = monthly(tmp_path, 60)
    shuffled = tmp_path / "shuffled.csv"
    frame.iloc[::-1].to_csv(shuffled, index=False)
    problem = get_problem("csv", path=str(shuffled), lags=3)
    assert np.array_equal(problem.values[:, 0], frame["y"]) and problem.dates.is_monotonic_increasing
    assert problem.describe()["order"] == "rows sorted by 'month' (59 row(s) were earlier than the row before them)"
    assert "order" not in get_problem("csv", path=str(path), lags=3).describe()
    pd.concat([frame, frame.iloc[[10]]]).to_csv(shuffled, index=False)
    with pytest.raises(UsageError) as err:
        get_problem("csv", path=str(shuffled), lags=3)
    assert str(err.value) == (f"problem 'csv': {shuffled}: date column 'month' has 1 duplicated timestamp(s), e.g. "
                              "2000-11-01 00:00:00 in rows 12, 62; keep one row per timestamp (aggregate or drop "
                              "the duplicates) first")


def test_time_names_the_date_column(tmp_path):
    frame = pd.DataFrame({"id": ["2020-01-01"] * 60, "when": pd.date_range("2021-01-01", periods=60, freq="D")[::-1],
                          "y": np.arange(60.0)})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    problem = get_problem("csv", path=str(path), lags=3, time="when")  # not 'id', the first date-like column
    assert problem.date_range[0].startswith("2021-01-01") and problem.values[0, 0] == 59
    assert problem.baselines().season == 7
    for time, needle in (("nope", "time column 'nope' not found; columns: id, when, y"),
                         ("y", "time column 'y' holds numbers, not dates"),
                         ("id", "date column 'id' has 59 duplicated timestamp")):
        with pytest.raises(UsageError, match=needle):
            get_problem("csv", path=str(path), lags=3, time=time)


def test_features_choose_the_exogenous_inputs(tmp_path):
    rng = np.random.default_rng(0)
    path, frame = monthly(tmp_path, 80, price=rng.normal(5, 1, 80), promo=rng.integers(0, 2, 80).astype(float))
    problem = get_problem("csv", path=str(path), target="y", lags=3, features="promo")
    assert problem.columns == ["y", "promo"] and problem.input_shape == (3, 2) and problem.target_index == 0
    assert problem.describe()["ignored_columns"] == "price"
    assert get_problem("csv", path=str(path), target="y", lags=3, features="none").columns == ["y"]
    assert get_problem("csv", path=str(path), target="y", lags=3).columns == ["y", "price", "promo"]
    restored = problem_from_state(json.loads(json.dumps(problem.state())))
    assert restored.encode_x([json.dumps([[1, 0], [2, 1], [3, 0]])]).shape == (1, 3, 2)
    for features, needle in (("stock", "feature column 'stock' not found; numeric columns: y, price, promo"),
                             ("month", "feature column 'month' is not numeric")):
        with pytest.raises(UsageError, match=needle):
            get_problem("csv", path=str(path), target="y", lags=3, features=features)
    with pytest.raises(UsageError, match="season must be an integer >= 2"):
        get_problem("csv", path=str(path), season="1")


def test_a_forecast_is_judged_against_every_baseline_by_diebold_mariano(tmp_path):
    """On a seasonal series with a trend: a forecast off by ~2 beats both baselines; the seasonal-naive
    forecast itself (12 off every window: the trend) does not beat itself, so it may not be champion."""
    path, _ = monthly(tmp_path, n=240)
    problem = get_problem("csv", path=str(path), lags=4, horizon=1)
    b = problem.baselines()
    rng = np.random.default_rng(0)
    good = judge(problem, b.naive.truth + rng.normal(0, 2, b.naive.truth.shape), "lstm", 0.05)
    assert good.beats_every_baseline and good.veto is None and set(good.tests) == {"naive", "seasonal naive (12)"}
    assert all(t.test == "Diebold-Mariano (HLN)" and t.p_value < 0.01 for t in good.tests.values())
    assert "lstm beats the naive forecast" in good.lines()[0] and "HAC lags" in good.lines()[0]
    seasonal = judge(problem, b.seasonal.forecast + rng.normal(0, 0.5, b.seasonal.forecast.shape), "sn", 0.05)
    assert not seasonal.tests["seasonal naive (12)"].better and not seasonal.beats_every_baseline
    assert "sn does not beat the seasonal naive (12) forecast" in seasonal.veto
