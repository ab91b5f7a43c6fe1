"""The tune stage end to end at a tiny size: Optuna studies over seeds, nested MLflow runs."""
import importlib.util

import optuna
import pytest
from mlflow.tracking import MlflowClient

from pipeline.cli import main
from pipeline.training.seeding import tuning_seeds
from pipeline.errors import UsageError
from pipeline.stages.tune import TuneSettings, tune
from tests_helpers import TINY_SPACE


def settings(tmp_path, **kw):
    space = tmp_path / "space.yaml"
    if not space.exists():
        space.write_text(TINY_SPACE)
    base = dict(problem="echo", architectures="vanilla", trials=3, seeds=2, timeout=None, space=str(space),
                data={"n_train": "64", "n_val": "32", "n_test": "32"}, runs_dir=tmp_path / "runs",
                progress=False)
    base.update(kw)
    return TuneSettings(**base)


def storage(tmp_path):
    return f"sqlite:///{(tmp_path / 'runs' / 'optuna.db').resolve()}"


def test_tune_nests_trials_and_seeds_in_mlflow_and_resumes(tmp_path):
    result = tune(settings(tmp_path))
    pair = result.pairs[0]
    assert pair.study_name == "echo-vanilla" and pair.complete + pair.pruned + pair.failed == 3

    study = optuna.load_study(study_name="echo-vanilla", storage=storage(tmp_path))
    first = study.trials[0]
    assert first.user_attrs["reference"] is True
    assert first.params["units"] == 16  # the book's 25 cells, clamped into this space's range
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for t in complete:
        assert len(t.user_attrs["seed_scores"]) == 2 and t.user_attrs["n_seeds"] == 2
        assert t.value == pytest.approx(sum(t.user_attrs["seed_scores"]) / 2)
        assert {"std", "sem", "mlflow_run_id", "n_params"} <= set(t.user_attrs)

    client = MlflowClient(f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').resolve()}")
    exp = client.get_experiment_by_name("lstm-echo")
    parents = client.search_runs([exp.experiment_id], "tags.role = 'study'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    trials = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(trials) == 3
    best = study.best_trial
    best_run = client.get_run(best.user_attrs["mlflow_run_id"])
    assert best_run.data.params["units"] == str(best.params["units"])
    assert best_run.data.tags["state"] == "COMPLETE"
    artifacts = {a.path for a in client.list_artifacts(best_run.info.run_id)}
    assert {"learning_curves.png", "model_summary.txt"} <= artifacts
    assert best.user_attrs["model_uri"].startswith("models:/")
    seeds = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{best_run.info.run_id}'")
    assert sorted(int(r.data.tags["seed"]) for r in seeds) == tuning_seeds(0, 2)
    for run in seeds:
        assert run.data.tags["role"] == "seed" and run.data.tags["problem"] == "echo"
        history = client.get_metric_history(run.info.run_id, "loss")
        assert len(history) == int(run.data.metrics["epochs"]) >= 1
        assert "val_accuracy" in run.data.metrics

    # Rerunning the same command continues the same study under the same parent run.
    tune(settings(tmp_path, trials=2))
    study = optuna.load_study(study_name="echo-vanilla", storage=storage(tmp_path))
    assert len(study.trials) == 5 and sum(t.user_attrs.get("reference", False) for t in study.trials) == 1
    assert len(client.search_runs([exp.experiment_id], "tags.role = 'study'")) == 1
    assert len(client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")) == 5

    # A resumed study must keep its seeds: a different SEEDS is refused with a clear message.
    with pytest.raises(UsageError, match="exists with different seeds"):
        tune(settings(tmp_path, seeds=3))


def test_same_study_seed_gives_same_values(tmp_path):
    values = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        tune(settings(tmp_path / run, trials=2, pruner="none"))
        study = optuna.load_study(study_name="echo-vanilla", storage=storage(tmp_path / run))
        values.append([(t.params, t.value) for t in study.trials])
    assert values[0] == values[1]


def test_nan_configuration_fails_its_trial_and_the_study_goes_on(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("""
params:
  units: 32
  activation: relu
  kernel_initializer: random_uniform
  optimizer: sgd
  learning_rate: {type: categorical, choices: [10.0]}
  epochs: 5
  patience: 0
""")
    result = tune(settings(tmp_path, problem="damped_sine", data={"length": "10", "n_train": "64", "n_val": "32"},
                           trials=2, seeds=2, pruner="none"))  # each diverges: none may be pruned first
    assert [p.study_name for p in result.pairs] == ["damped_sine-vanilla"], "the stage reports its one study"
    study = optuna.load_study(study_name="damped_sine-vanilla", storage=storage(tmp_path))
    assert len(study.trials) == 2 and result.pairs[0].failed == 2
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.FAIL
        assert "non-finite" in t.user_attrs["reason"]
    client = MlflowClient(f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').resolve()}")
    run = client.get_run(study.trials[0].user_attrs["mlflow_run_id"])
    assert run.info.status == "FAILED" and "non-finite" in run.data.tags["reason"]


def test_the_sampler_is_a_setting_recorded_on_the_study_and_its_run(tmp_path):
    tune(settings(tmp_path, sampler="random", trials=2, seeds=1))
    study = optuna.load_study(study_name="echo-vanilla", storage=storage(tmp_path))
    assert study.user_attrs["sampler"] == "random" and len(study.trials) == 2
    client = MlflowClient(f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').resolve()}")
    assert client.get_run(study.user_attrs["mlflow_parent_run_id"]).data.params["sampler"] == "random"


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {units: {type: int, low: 9, high: 1}}")
    cases = [
        (["tune", "--problem", "nope"], "unknown problem 'nope'; choose one of: echo"),
        (["tune", "--problem", "addition", "--arch", "vanilla"], "valid: encoder_decoder, attention"),
        (["tune", "--problem", "echo", "--space", str(bad)], "empty range"),
        (["tune", "--problem", "echo", "--data", "lenght=5"], "has no parameter lenght"),
        (["tune", "--problem", "echo", "--data", "length=five"], "length='five'"),
    ]
    if importlib.util.find_spec("torch") is None:  # the default install has no PyTorch
        cases.append((["tune", "--problem", "echo", "--sampler", "gp"], "needs PyTorch"))
    for argv, needle in cases:
        code = main(argv + ["--runs-dir", str(tmp_path / "runs"), "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code == 2, argv
        assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs" / "mlflow.db").exists()  # bad input writes nothing


def test_ctrl_c_stops_cleanly_and_marks_the_running_trial(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from tests_helpers import wait_for_running_trial

    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE.replace("epochs: 2", "epochs: 30").replace("patience: 1", "patience: 0"))
    runs = tmp_path / "runs"
    # No pruning: the batch of 5 trials trains 30 epochs each, so the signal lands mid-training (with halving
    # the batch could end within the second before it, and the run finish normally).
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "tune", "--problem", "echo", "--arch", "vanilla",
                             "--trials", "5", "--seeds", "2", "--timeout", "0", "--pruner", "none", "--space", str(space), "--data",
                             "n_train=512 n_val=32", "--runs-dir", str(runs), "--no-report", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    number = wait_for_running_trial(storage(tmp_path), "echo-vanilla", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted" in out and "Traceback" not in out

    study = optuna.load_study(study_name="echo-vanilla", storage=storage(tmp_path))
    trial = study.trials[number]
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs["reason"] == "interrupted by the user"
    client = MlflowClient(f"sqlite:///{(runs / 'mlflow.db').resolve()}")
    run = client.get_run(trial.user_attrs["mlflow_run_id"])
    assert run.info.status == "KILLED"
    parent = client.get_run(study.user_attrs["mlflow_parent_run_id"])
    assert parent.info.status == "KILLED"
    assert all(r.info.status != "RUNNING" for r in client.search_runs([run.info.experiment_id]))
