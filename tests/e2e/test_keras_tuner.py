"""The keras-tuner engine at a tiny size: KerasTuner picks, the Objective trains, Optuna and MLflow record."""
import json

import keras_tuner as kt
import optuna
import pytest
from mlflow.tracking import MlflowClient

from pipeline.report.candidates import select_candidates
from pipeline.search.studies import stored_studies
from pipeline.cli import main
from pipeline.search.engines.keras_tuner import HyperParametersTrial, declare
from pipeline.problems import get_problem
from pipeline.training.seeding import tuning_seeds
from pipeline.stages.tune import TuneSettings, format_summary, tune
from search_spaces.loader import load_space
from tests_helpers import TINY_SPACE as SPACE


def settings(tmp_path, space=SPACE, **kw):
    path = tmp_path / "space.yaml"
    path.write_text(space)
    base = dict(problem="echo", architectures="vanilla", trials=2, seeds=2, timeout=None, space=str(path),
                data={"n_train": "64", "n_val": "32", "n_test": "32"}, runs_dir=tmp_path / "runs", progress=False,
                engine="keras-tuner")
    base.update(kw)
    return TuneSettings(**base)


def stores(tmp_path, name):
    runs = (tmp_path / "runs").resolve()
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{runs / 'optuna.db'}")
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    return study, client, client.get_experiment_by_name("lstm-echo").experiment_id


def children(client, experiment, run_id):
    return client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run_id}'")


def test_random_search_records_optuna_trials_and_nested_mlflow_runs_and_resumes(tmp_path):
    result = tune(settings(tmp_path, kt_algorithm="random"))
    name = "echo-vanilla-kt-random"
    assert result.pairs[0].study_name == name and result.pairs[0].complete == 2
    assert name in format_summary(result)

    study, client, experiment = stores(tmp_path, name)
    assert study.user_attrs["engine"] == "keras-tuner" and study.user_attrs["algorithm"] == "random"
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    parents = client.search_runs([experiment], "tags.role = 'study'")
    assert len(parents) == 1 and parents[0].data.tags["study"] == name
    trial_runs = children(client, experiment, parents[0].info.run_id)
    assert len(trial_runs) == 2 and {r.data.tags["role"] for r in trial_runs} == {"trial"}
    for t in study.trials:
        hp = t.user_attrs["hp"]
        assert t.user_attrs["engine"] == "keras-tuner" and "reference" not in t.user_attrs
        assert t.params == {k: hp[k] for k in t.params} and {"units", "batch_size"} <= set(t.params)
        assert len(t.user_attrs["seed_scores"]) == 2 and t.value == pytest.approx(t.user_attrs["mean"])
        run = client.get_run(t.user_attrs["mlflow_run_id"])
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.tags["kt_trial_id"] == t.user_attrs["kt_trial_id"]
        assert run.data.params["units"] == str(hp["units"]) and run.data.tags["state"] == "COMPLETE"
        seeds = children(client, experiment, run.info.run_id)
        assert sorted(int(r.data.tags["seed"]) for r in seeds) == tuning_seeds(0, 2)
        assert all(r.data.tags["role"] == "seed" and r.data.params["units"] == str(hp["units"]) for r in seeds)

    # The report stage reads the study like any other.
    candidates = select_candidates(get_problem("echo"), stored_studies(study._storage, "echo"), top_k=2)
    assert {c.study for c in candidates if c.study} == {name}

    # Rerunning continues KerasTuner's search (its state reloaded) and the same study and parent run.
    tune(settings(tmp_path, kt_algorithm="random", trials=1))
    study, client, experiment = stores(tmp_path, name)
    assert len(study.trials) == 3 and len({t.user_attrs["kt_trial_id"] for t in study.trials}) == 3
    assert len(list((tmp_path / "runs" / "keras_tuner" / name).glob("trial_*"))) == 3
    assert len(children(client, experiment, parents[0].info.run_id)) == 3


def test_hyperband_trials_train_the_epochs_keras_tuner_asks_for(tmp_path):
    space = SPACE.replace("epochs: 2", "epochs: 3").replace("patience: 1", "patience: 0")
    tune(settings(tmp_path, space=space, kt_algorithm="hyperband", trials=4, seeds=1))
    study, client, experiment = stores(tmp_path, "echo-vanilla-kt-hyperband")
    budgets = [t.user_attrs["epochs_budget"] for t in study.trials]
    assert len(budgets) == 4 and set(budgets) == {1, 3}  # successive halving: 1 epoch, then 3
    for t, budget in zip(study.trials, budgets):
        assert t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs["hp"]["epochs"] == budget
        run = client.get_run(t.user_attrs["mlflow_run_id"])
        assert run.data.params["epochs"] == str(budget) and run.data.tags["epochs_budget"] == str(budget)
        (seed,) = children(client, experiment, run.info.run_id)
        assert seed.data.metrics["epochs"] == budget  # no early stopping (patience 0): exactly the budget


def test_the_yaml_loader_drives_keras_tuner_hyperparameters(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("""
params:
  optimizer: {type: categorical, choices: [adam, sgd]}
  decoder_units: {type: categorical, choices: [null, 16]}
  layers: {type: int, low: 1, high: 3}
  filters: {type: int, low: 2, high: 8, step: 2}
  units: {type: int, low: 8, high: 128, log: true}
  dropout: {type: float, low: 0.0, high: 0.3, step: 0.1}
  l2: {type: float, low: 0.0, high: 0.1}
  learning_rate: {type: float, low: 0.0001, high: 0.1, log: true}
  epochs: 4
""")
    space = load_space("encoder_decoder", "addition", path)
    hps = {hp.name: hp for hp in declare(space).space}
    assert isinstance(hps["optimizer"], kt.engine.hyperparameters.Choice) and hps["optimizer"].values == ["adam", "sgd"]
    assert hps["decoder_units"].values == ["None", "16"]  # mixed types: labels, mapped back
    assert isinstance(hps["layers"], kt.engine.hyperparameters.Int) and hps["layers"].sampling == "linear"
    assert (hps["filters"].min_value, hps["filters"].max_value, hps["filters"].step) == (2, 8, 2)
    assert hps["units"].sampling == "log" and (hps["units"].min_value, hps["units"].max_value) == (8, 128)
    assert isinstance(hps["dropout"], kt.engine.hyperparameters.Float) and hps["dropout"].step == 0.1
    assert hps["l2"].sampling == "linear" and hps["l2"].step is None
    assert hps["learning_rate"].sampling == "log" and hps["learning_rate"].min_value == 0.0001
    assert "epochs" not in hps  # fixed values stay out of the search

    hp = declare(space)
    hp.values.update({"decoder_units": "16", "dropout": 0.1 * 3, "units": 100, "learning_rate": 0.002})
    values = space.suggest(HyperParametersTrial(hp))
    assert values["decoder_units"] == 16 and values["dropout"] == 0.3 and values["units"] == 100
    assert values["learning_rate"] == 0.002 and values["epochs"] == 4
    assert hps["dropout"].prob_to_value(0.99) == pytest.approx(0.3)  # KerasTuner's grid keeps its top


def test_keras_tuner_with_workers_is_a_one_line_usage_error(tmp_path, capsys):
    code = main(["tune", "--problem", "echo", "--engine", "keras-tuner", "--workers", "2",
                 "--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "keras-tuner runs in one process" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_failed_trials_are_recorded_and_keras_tuner_goes_on(tmp_path, capfd):
    space = """
params:
  units: 32
  activation: relu
  kernel_initializer: {type: categorical, choices: [random_uniform, random_normal]}
  optimizer: sgd
  learning_rate: 10.0
  epochs: 3
  patience: 0
"""
    result = tune(settings(tmp_path, space=space, problem="damped_sine", trials=3, seeds=1,
                           data={"length": "10", "n_train": "64", "n_val": "32"}))
    name = "damped_sine-vanilla-kt-random"
    runs = (tmp_path / "runs").resolve()
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{runs / 'optuna.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2  # both NaN, the second still ran
    assert all("non-finite" in t.user_attrs["reason"] for t in study.trials)
    kt_trials = sorted((runs / "keras_tuner" / name).glob("trial_*/trial.json"))
    assert [json.loads(f.read_text())["status"] for f in kt_trials] == ["FAILED"] * 2
    assert "search space is exhausted" in result.stopped_reason  # 2 configurations, 3 trials asked
    assert "Traceback" not in capfd.readouterr().err
