"""Scheduled retuning: champion/challenger decisions with evidence, the lock, rollback, history."""
import pytest
from mlflow.tracking import MlflowClient

from pipeline.errors import UsageError
from pipeline.locking import job_lock
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.retune import RetuneSettings, history, retune, rollback
from pipeline.stages.schedule import schedule
from pipeline.stages.tune import TuneSettings, tune
from tracking import Tracker
from tracking.registry import CHAMPION, PREVIOUS, Registry

# A deliberately weak champion: one epoch of a small model (lr 0.01: a few more epochs on more data
# beat it by a wide margin, so the test does not hang on a borderline p-value).
WEAK = """
extends: common
params:
  units: 8
  optimizer: adam
  learning_rate: 0.01
  batch_size: 32
  kernel_initializer: glorot_uniform
  dropout: 0.0
  l2: 0.0
  epochs: 1
  patience: 0
"""


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    root = tmp_path_factory.mktemp("retune")
    (root / "weak.yaml").write_text(WEAK)
    tune(TuneSettings(problem="echo", architectures="vanilla", trials=1, seeds=2, timeout=None,
                      space=str(root / "weak.yaml"), data={"n_train": "256", "n_val": "64", "n_test": "64"},
                      runs_dir=root / "runs", progress=False))
    report(ReportSettings(problem="echo", top_k=1, repeats=3, runs_dir=root / "runs", out_dir=root / "out",
                          progress=False))
    return root


def settings(root, **kw):  # 8 repeats: with 5, a Wilcoxon test can never reach p < 0.05
    return RetuneSettings(**{"problem": "echo", "repeats": 8, "extra_epochs": 4, "trials": 0,
                             "runs_dir": root / "runs", "progress": False, **kw})


def test_retune_on_unchanged_data_keeps_the_champion(champion):
    result = retune(settings(champion, data_seed=0))
    assert not result.promoted and "nothing changed" in result.decision
    assert str(Registry(Tracker.embedded(champion / "runs")).alias("lstm-echo", CHAMPION).version) == "1"


def test_lock_refuses_a_concurrent_retune(champion):
    with job_lock(champion / "runs", "retune-echo"):
        with pytest.raises(UsageError, match="another 'retune-echo' job is running"):
            retune(settings(champion))


def test_weak_champion_is_replaced_and_rollback_restores_it(champion):
    result = retune(settings(champion))
    assert result.promoted, result.decision
    assert result.p_value < 0.05 and "promoted to champion" in result.decision
    tracker = Tracker.embedded(champion / "runs")
    registry = Registry(tracker)
    assert str(registry.alias("lstm-echo", CHAMPION).version) == str(result.version)
    assert str(registry.alias("lstm-echo", PREVIOUS).version) == "1"
    run = MlflowClient(tracker.uri).get_run(result.run_id)
    assert run.data.tags["decision"] == result.decision and run.data.metrics["p_value"] == pytest.approx(result.p_value)
    assert "champion_test_accuracy" in run.data.metrics

    message = rollback("echo", runs_dir=champion / "runs")
    assert "champion is v1 again" in message
    assert str(registry.alias("lstm-echo", CHAMPION).version) == "1"
    text = history("echo", runs_dir=champion / "runs")
    assert "champion" in text and "promoted to champion" in text and "retunes:" in text

    again = retune(settings(champion, data_seed=result_seed(tracker, result.run_id)))
    assert "nothing changed" in again.decision  # the same new data twice: idempotent


def result_seed(tracker, run_id):
    return int(tracker.client.get_run(run_id).data.tags["data.seed"])


def test_schedule_prints_cron_and_systemd(tmp_path):
    text = schedule("echo", "daily", tmp_path)
    assert "0 3 * * *" in text and "make retune PROBLEM=echo" in text and "OnCalendar=*-*-* 03:00:00" in text
    assert "30 2 * * 1" in schedule("echo", "30 2 * * 1", tmp_path)
    with pytest.raises(UsageError, match="--every must be one of"):
        schedule("echo", "sometimes", tmp_path)
