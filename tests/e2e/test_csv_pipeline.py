"""The user's own series through every stage: tune -> report (naive and seasonal-naive baselines, skill,
MASE, the test period plotted, whether the winner beats each baseline by Diebold-Mariano) -> registered
champion -> predict on the raw last `lags` values -> retune with a newer file that extends the series (the
same file again: nothing). A model that does not beat every baseline is registered as challenger."""
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.settings import JobSettings
from pipeline.errors import UsageError
from pipeline.stages.predict import predict
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.retune import RetuneSettings, retune
from pipeline.stages.tune import TuneSettings, tune
from tracking.tracker import Tracker
from tracking.names import experiment_name
from tracking.registry import CHALLENGER, CHAMPION, Registry

# Small, but trained enough (a fixed, quick learning rate) to learn a pattern the naive forecast misses.
SPACE = """
extends: common
params:
  units: {type: int, low: 8, high: 16}
  optimizer: adam
  learning_rate: 0.01
  batch_size: 16
  epochs: 6
  patience: 2
"""


def series(n: int) -> pd.DataFrame:
    """Monthly, high and low in turn with a swing that grows and shrinks over 40 months: the last value is
    always the wrong guess, one season (12 months) ago a worse one than the last few months tell."""
    t = np.arange(n)
    swing = 3 + 2 * np.sin(2 * np.pi * t / 40)
    load = 10 + swing * (-1.0) ** t + np.random.default_rng(0).normal(0, 0.2, n)
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "load": load})


def random_walk(n: int) -> pd.DataFrame:
    """A random walk: nothing forecasts it better than its last value."""
    load = 50 + np.cumsum(np.random.default_rng(1).normal(0, 1, n))
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "load": load})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv")
    series(200).to_csv(root / "old.csv", index=False)
    series(260).to_csv(root / "new.csv", index=False)  # the same series, 60 months longer
    random_walk(200).to_csv(root / "walk.csv", index=False)
    (root / "space.yaml").write_text(SPACE)
    return root


def _tune(files, runs, path, trials):
    data = {"path": str(path), "target": "load", "lags": "6"}
    return tune(TuneSettings(problem="csv", architectures="vanilla", trials=trials, seeds=2, timeout=None,
                             space=str(files / "space.yaml"), data=data, runs_dir=runs, progress=False))


def test_every_stage_takes_a_csv_series(files):
    runs = files / "runs"
    assert _tune(files, runs, files / "old.csv", 1).pairs[0].complete == 1

    # 10 seeds: the naive-forecast verdict uses the 5 confirmation seeds, enough for p < 0.05 by either test
    result = report(ReportSettings(problem="csv", top_k=1, repeats=10, ensemble=2, runs_dir=runs,
                                   out_dir=files / "out",
                                   progress=False))
    assert result.finalized.alias == CHAMPION and result.metric == "rmse", result.finalized.decision
    page = result.html.read_text()
    for column in ("naive RMSE", "skill vs naive", "seasonal-naive RMSE", "skill vs seasonal naive", "MASE"):
        assert f"<th>{column}</th>" in page  # the winner table: both baselines beside every candidate
    assert "season 12 (date frequency &#x27;MS&#x27;)" in page and "forecast_test_period" in page
    for baseline in ("naive", "seasonal naive (12)"):  # the Diebold-Mariano test against each, in the page
        assert f"seeds) beats the {baseline} forecast on the same" in page
    assert "Diebold-Mariano (HLN)" in page and "consecutive test forecasts (HAC)" in page
    assert (result.html.parent / "forecast_test_period.png").stat().st_size > 10_000

    tracker = Tracker.embedded(runs)
    experiment = tracker.find_experiment(experiment_name("csv"))
    run = tracker.client.get_run(result.report_run_id).data.metrics
    assert run["season"] == 12 and run["winner_beats_every_baseline"] == 1 and run["winner_vs_naive_p"] < 0.05
    assert run["winner_vs_seasonal_naive_p"] < 0.05 and run["winner_vs_naive_dm"] < 0
    assert run["naive_rmse"] > 5 > run["seasonal_naive_rmse"]  # high-low: the last value wrong, a year ago closer
    candidate = tracker.children(experiment, result.report_run_id, "candidate")[0].data.metrics
    assert candidate["test_naive_rmse"] == run["naive_rmse"] and candidate["test_skill"] > 0
    assert {"test_seasonal_naive_rmse", "test_seasonal_skill", "test_mase"} <= set(candidate)

    last = series(200)["load"].to_numpy()[-6:]
    [(raw, answer)] = predict("csv", [json.dumps(last.tolist())], "champion", JobSettings(runs_dir=runs))
    forecast = json.loads(answer)
    assert len(forecast) == 1 and 5 < forecast[0] < 30  # one step ahead, in the series' own units

    settings = RetuneSettings(problem="csv", data={"path": str(files / "new.csv")}, repeats=2, extra_epochs=2,
                              trials=0, runs_dir=runs, progress=False)
    first = retune(settings)
    assert "nothing changed" not in first.decision and first.champion_score is not None
    again = retune(settings)
    assert "nothing changed" in again.decision and not again.promoted
    champion = Registry(Tracker.embedded(runs)).alias("lstm-csv", CHAMPION)
    assert champion is not None and json.loads(champion.tags["config"])[0] == "vanilla"


def test_a_winner_that_does_not_beat_the_naive_forecast_is_only_a_challenger(files):
    runs = files / "walk-runs"
    _tune(files, runs, files / "walk.csv", 1)
    # 2 seeds: no holdout split below 4, so the verdict sees both (with 4 it saw the 2 confirmation seeds)
    result = report(ReportSettings(problem="csv", top_k=1, repeats=2, ensemble=1, runs_dir=runs,
                                   out_dir=files / "walk-out",
                                   progress=False))
    assert result.finalized.alias == CHALLENGER
    assert "registered as challenger, not champion" in result.finalized.decision
    assert "the registered model does not beat the naive forecast" in result.finalized.decision
    assert "Diebold-Mariano (HLN)" in result.finalized.decision
    registry = Registry(Tracker.embedded(runs))
    assert registry.alias("lstm-csv", CHAMPION) is None
    assert registry.alias("lstm-csv", CHALLENGER).tags["decision"] == result.finalized.decision
    assert "registered as challenger, not champion" in result.markdown.read_text()
    with pytest.raises(UsageError, match="no model 'lstm-csv' with alias 'champion'"):
        predict("csv", ["[1, 2, 3, 4, 5, 6]"], "champion", JobSettings(runs_dir=runs))
