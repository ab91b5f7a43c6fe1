"""Many workers on one study against the real PostgreSQL; a worker killed mid-trial; bad stores."""
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from mlflow.tracking import MlflowClient

from bench.pg import WORKER_SPACE as SPACE
from pipeline.stages.tune import TuneSettings, tune
from tests_helpers import postgres, wait_for_running_trial



@pytest.fixture
def pg(tmp_path):
    """Two fresh PostgreSQL databases (Optuna, MLflow); skipped when no server answers."""
    (tmp_path / "space.yaml").write_text(SPACE)
    with postgres("lstm") as (storage, tracking):
        yield {"storage": storage, "tracking": tracking, "space": str(tmp_path / "space.yaml")}


def _trial_runs(client, study):
    exp = client.get_experiment_by_name("lstm-echo")
    parents = client.search_runs([exp.experiment_id], "tags.role = 'study'")
    assert len(parents) == 1, "one parent run per study, whichever worker ran the trial"
    parent = parents[0].info.run_id
    assert study.user_attrs["mlflow_parent_run_id"] == parent
    return client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent}'")


def test_two_workers_share_one_study_without_duplicates(pg, tmp_path):
    tune(TuneSettings(problem="echo", architectures="vanilla", trials=6, seeds=2, timeout=None, workers=2,
                      storage=pg["storage"], tracking=pg["tracking"], space=pg["space"],
                      data={"n_train": "64", "n_val": "32"}, runs_dir=tmp_path / "runs", progress=False))
    study = optuna.load_study(study_name="echo-vanilla", storage=pg["storage"])
    finished = [t for t in study.trials if t.state.is_finished()]
    # Two workers may each start a trial when one is left: at most one extra.
    assert 6 <= len(finished) <= 7 and len(study.trials) == len(finished)
    runs = _trial_runs(MlflowClient(pg["tracking"]), study)
    assert sorted(int(r.data.tags["trial"]) for r in runs) == sorted(t.number for t in finished)
    assert len({r.data.tags["worker"] for r in runs}) == 2, "both workers ran trials"
    assert all(r.info.status != "RUNNING" for r in runs)
    assert not (tmp_path / "runs" / "optuna.db").exists()


def _cli(pg, tmp_path, trials):
    env = {**os.environ, "LSTM_TUNE_HEARTBEAT": "1", "LSTM_TUNE_GRACE": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "tune", "--problem", "echo", "--arch", "vanilla", "--trials",
         str(trials), "--seeds", "2", "--timeout", "0", "--storage", pg["storage"], "--tracking", pg["tracking"],
         "--space", pg["space"], "--data", "n_train=64 n_val=32", "--runs-dir", str(tmp_path / "runs"),
         "--no-report", "--no-progress", "--pruner", "none"],  # every trial completes: the count below is exact
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_worker_killed_mid_trial_is_retried_and_nothing_stays_running(pg, tmp_path):
    total = 3
    proc = _cli(pg, tmp_path, total)
    killed = wait_for_running_trial(pg["storage"], "echo-vanilla", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(4)  # past the heartbeat grace period
    study = optuna.load_study(study_name="echo-vanilla", storage=pg["storage"])
    complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    again = _cli(pg, tmp_path, total - complete)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out[-2000:]

    study = optuna.load_study(study_name="echo-vanilla", storage=pg["storage"])
    trials = study.trials
    assert trials[killed].state == optuna.trial.TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].params == trials[killed].params
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == total
    runs = _trial_runs(MlflowClient(pg["tracking"]), study)
    by_trial = {int(r.data.tags["trial"]): r for r in runs}
    assert by_trial[killed].info.status == "KILLED" and by_trial[killed].data.tags["reason"] == "worker died"
    assert all(r.info.status != "RUNNING" for r in runs)
