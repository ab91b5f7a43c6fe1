"""The user's own series through every stage: tune -> report -> registered champion -> predict on the raw
last `lags` values -> retune with a newer file that extends the series (the same file again: nothing)."""
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.stages.predict import predict
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.retune import RetuneSettings, retune
from pipeline.stages.tune import TuneSettings, tune
from tests_helpers import TINY_SPACE
from tracking import Tracker
from tracking.registry import CHAMPION, Registry


def series(n: int) -> pd.DataFrame:
    t = np.arange(n)
    load = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.1, n)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"), "load": load})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv")
    series(200).to_csv(root / "old.csv", index=False)
    series(260).to_csv(root / "new.csv", index=False)  # the same series, 60 days longer
    (root / "space.yaml").write_text(TINY_SPACE)
    return root


def test_every_stage_takes_a_csv_series(files):
    runs = files / "runs"
    data = {"path": str(files / "old.csv"), "target": "load", "lags": "6"}
    tuned = tune(TuneSettings(problem="csv", architectures="vanilla", trials=2, seeds=2, timeout=None,
                              space=str(files / "space.yaml"), data=data, runs_dir=runs, progress=False))
    assert tuned.pairs[0].complete >= 1

    result = report(ReportSettings(problem="csv", top_k=1, repeats=3, runs_dir=runs, out_dir=files / "out",
                                   progress=False))
    assert result.finalized.alias == CHAMPION and result.metric == "rmse"
    assert "test skill mean" in result.html.read_text()  # the naive forecast's yardstick beside RMSE

    last = series(200)["load"].to_numpy()[-6:]
    [(raw, answer)] = predict("csv", [json.dumps(last.tolist())], runs_dir=runs)
    forecast = json.loads(answer)
    assert len(forecast) == 1 and 5 < forecast[0] < 30  # one step ahead, in the series' own units

    settings = RetuneSettings(problem="csv", data={"path": str(files / "new.csv")}, repeats=4, extra_epochs=2,
                              trials=0, runs_dir=runs, progress=False)
    first = retune(settings)
    assert "nothing changed" not in first.decision and first.champion_score is not None
    again = retune(settings)
    assert "nothing changed" in again.decision and not again.promoted
    champion = Registry(Tracker.embedded(runs)).alias("lstm-csv", CHAMPION)
    assert champion is not None and json.loads(champion.tags["config"])[0] == "vanilla"
