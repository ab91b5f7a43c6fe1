"""Faults a shared tuning service meets, on real stores: the MLflow server killed and restarted
mid-study, the database's connections terminated mid-study, a report killed while it registers."""
import os
import shutil
import subprocess
import sys
import time

import optuna
import pytest
from mlflow.tracking import MlflowClient

from bench.pg import PG
from bench.servers import MlflowServer
from pipeline.cli import main
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.tune import TuneSettings, tune
from tracking.registry import CHAMPION, Registry, load_model
from tracking.tracker import Tracker
from tests_helpers import TINY_SPACE, postgres, wait_for_running_trial

STUDY = "echo-vanilla"


@pytest.fixture
def stores(tmp_path):
    """Fresh PostgreSQL databases: Optuna's, and MLflow's (its URL is the tracking URI until `server`)."""
    (tmp_path / "space.yaml").write_text(TINY_SPACE)
    with postgres("chaos") as (storage, backend):
        yield {"storage": storage, "backend": backend, "tracking": backend, "space": str(tmp_path / "space.yaml"),
               "runs": tmp_path / "runs"}


@pytest.fixture
def server(stores, tmp_path):
    """An MLflow server on 127.0.0.1 over the MLflow database, which becomes the tracking URI."""
    (tmp_path / "artifacts").mkdir()
    with MlflowServer(stores["backend"], tmp_path / "artifacts") as running:
        stores["tracking"] = running.uri
        yield running


def cli(stores, trials=4):
    """`lstm-tune tune` as a subprocess, with short MLflow retries."""
    env = {**os.environ, "LSTM_TUNE_TRACKING_RETRIES": "1", "LSTM_TUNE_TRACKING_BACKOFF": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "tune", "--problem", "echo", "--arch", "vanilla", "--trials",
         str(trials), "--seeds", "2", "--timeout", "0", "--storage", stores["storage"], "--space", stores["space"],
         "--data", "n_train=64 n_val=32 n_test=32", "--no-report", "--no-progress", "--tracking", stores["tracking"],
         "--runs-dir", str(stores["runs"]), "--pruner", "none"],  # every trial completes: counts below are exact
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def sync(stores, capsys) -> str:
    """`lstm-tune sync`, in this process."""
    capsys.readouterr()
    assert main(["sync", "--tracking", stores["tracking"], "--runs-dir", str(stores["runs"])]) == 0
    return capsys.readouterr().out


def finish(proc, timeout=300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def tree(stores):
    """Optuna's trials, and MLflow's trial runs by trial number and seed runs by (trial, seed), each a list
    (a duplicate shows as two); every run of the experiment that is still RUNNING."""
    study = optuna.load_study(study_name=STUDY, storage=stores["storage"])
    client = MlflowClient(stores["tracking"])
    exp = client.get_experiment_by_name("lstm-echo").experiment_id
    runs = client.search_runs([exp], "", max_results=5000)
    trials, seeds = {}, {}
    for run in runs:
        if run.data.tags.get("role") == "trial":
            trials.setdefault(int(run.data.tags["trial"]), []).append(run)
        elif run.data.tags.get("role") == "seed":
            seeds.setdefault((int(run.data.tags["trial"]), int(run.data.tags["seed"])), []).append(run)
    return study, trials, seeds, [r for r in runs if r.info.status == "RUNNING"]


def test_tracking_server_killed_mid_study_then_sync_logs_every_run_once(stores, server, capsys):
    tune = cli(stores, trials=5)
    wait_for_running_trial(stores["storage"], STUDY, tune)
    server.kill()
    out = finish(tune)  # training went on without MLflow
    assert "replayed by `lstm-tune sync`" in out
    study = optuna.load_study(study_name=STUDY, storage=stores["storage"])
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 5
    pending = sorted(p.parent.name for p in (stores["runs"] / "outbox").glob("*/journal.jsonl"))
    assert pending, "the trials' logging waits on disk"

    server.start()
    backup = stores["runs"].parent / "outbox-copy"
    shutil.copytree(stores["runs"] / "outbox", backup)
    assert f"replayed {len(pending)} journal(s)" in sync(stores, capsys)
    assert not list((stores["runs"] / "outbox").glob("*/journal.jsonl"))
    study, trials, seeds, running = tree(stores)
    client = MlflowClient(stores["tracking"])
    history = {key: len(client.get_metric_history(r[0].info.run_id, "val_loss")) for key, r in seeds.items()}

    shutil.rmtree(stores["runs"] / "outbox")  # a replay cut off before it deleted its journals, run again
    shutil.copytree(backup, stores["runs"] / "outbox")
    sync(stores, capsys)
    study, trials, seeds, running = tree(stores)
    assert sorted(trials) == [t.number for t in study.trials]
    assert all(len(runs) == 1 for runs in trials.values()), "no trial logged twice"
    assert sorted(seeds) == sorted((t.number, s) for t in study.trials for s in (0, 1))
    assert all(len(runs) == 1 for runs in seeds.values()), "no seed logged twice"
    assert running == []
    for number, (run,) in trials.items():
        assert run.info.status == "FINISHED" and run.data.tags["state"] == "COMPLETE"
        assert "val_accuracy_mean" in run.data.metrics and run.data.params["units"]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"learning_curves.png",
                                                                            "model_summary.txt"}
    assert {key: len(client.get_metric_history(r[0].info.run_id, "val_loss")) for key, r in seeds.items()} == history
    assert all(n == 2 for n in history.values()), "two epochs, each logged once"
    kept = [t.number for t in study.trials if t.user_attrs.get("model_uri", "").startswith("runs:/")]
    for number in kept:  # a best model logged while MLflow was away: replayed as the run's artifact
        assert "model/MLmodel" in {a.path for a in client.list_artifacts(trials[number][0].info.run_id, "model")}


def terminate_connections(url: str) -> int:
    """pg_terminate_backend on every session of the database at `url`; how many were ended."""
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (url.rsplit("/", 1)[1],)).fetchall()
    return len(rows)


def test_database_connections_terminated_mid_study_are_reconnected(stores, capsys):
    tune = cli(stores, trials=6)
    wait_for_running_trial(stores["storage"], STUDY, tune)
    ended = rounds = 0
    while tune.poll() is None and rounds < 8:  # every connection of both databases, again and again
        ended += terminate_connections(stores["storage"]) + terminate_connections(stores["tracking"])
        rounds += 1
        time.sleep(1.5)
    assert rounds >= 3 and ended >= 2 * rounds
    finish(tune)
    sync(stores, capsys)  # a tracking write that failed twice waited in the outbox
    study, trials, seeds, running = tree(stores)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6 and optuna.trial.TrialState.RUNNING not in states
    assert sorted(trials) == [t.number for t in study.trials] and running == []
    assert all(len(runs) == 1 for runs in trials.values()) and all(len(runs) == 1 for runs in seeds.values())


def test_report_killed_while_it_registers_then_rerun_registers_one_version(tmp_path):
    runs = tmp_path / "runs"
    (tmp_path / "space.yaml").write_text(TINY_SPACE)
    tune(TuneSettings(problem="echo", architectures="vanilla", trials=2, seeds=2, timeout=None, runs_dir=runs,
                      space=str(tmp_path / "space.yaml"), data={"n_train": "32", "n_val": "16", "n_test": "16"},
                      progress=False))
    settings = dict(problem="echo", top_k=1, repeats=2, ensemble=2, runs_dir=runs, out_dir=tmp_path / "out",
                    progress=False)
    killed = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "report", "--problem", "echo", "--top-k", "1",
                               "--repeats", "2", "--ensemble", "2", "--runs-dir", str(runs), "--no-progress"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = MlflowClient(f"sqlite:///{runs.resolve() / 'mlflow.db'}")
    deadline = time.monotonic() + 300
    while killed.poll() is None and time.monotonic() < deadline:  # kill it once it refits and logs the winner
        exp = client.get_experiment_by_name("lstm-echo")
        if client.search_runs([exp.experiment_id], "tags.role = 'final'"):
            killed.kill()
            break
        time.sleep(0.1)
    assert killed.wait(timeout=30) == -9, killed.stdout.read()[-2000:]

    first = report(ReportSettings(**settings))
    registry = Registry(Tracker.embedded(runs))
    assert [str(v.version) for v in registry.versions("lstm-echo")] == [first.finalized.version] == ["1"]
    assert str(registry.alias("lstm-echo", CHAMPION).version) == "1" and load_model("models:/lstm-echo@champion")

    client.delete_registered_model_alias("lstm-echo", CHAMPION)  # killed after the version was made, before its alias
    again = report(ReportSettings(**settings))
    assert [str(v.version) for v in registry.versions("lstm-echo")] == ["1"], "the rerun places the version it made"
    assert again.finalized.version == "1" and str(registry.alias("lstm-echo", CHAMPION).version) == "1"


def test_unwritable_runs_dir_stops_tune_with_one_line_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["tune", "--problem", "echo", "--arch", "vanilla", "--trials", "1", "--storage",
                 f"sqlite:///{tmp_path / 'optuna.db'}", "--tracking", f"sqlite:///{tmp_path / 'mlflow.db'}",
                 "--runs-dir", str(blocker / "runs"), "--no-report", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1, err
    assert f"cannot write to {blocker / 'runs' / 'outbox'}" in err
    assert not optuna.get_all_study_names(f"sqlite:///{tmp_path / 'optuna.db'}"), "nothing trained"
