"""What an MLflow user finds after a tiny tune and report, read back from a fresh store: an experiment of
model training (the UI opens on its runs), the data as MLflow datasets on the study, trial, candidate and
final runs (the registered version's run carries its training data), each candidate's seed runs grouped
for the charts, and a report whose candidate rows name their runs."""
import json

import pytest
from mlflow.tracking import MlflowClient

from conftest import TINY
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.tune import TuneSettings, tune
from tests_helpers import TINY_SPACE
from tracking.registry import CHAMPION, Registry
from tracking.tracker import EXPERIMENT_KIND, Tracker
from tracking.ui import CANDIDATE_TAG, CANDIDATES_VIEW, pages


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("view")
    space = root / "space.yaml"
    space.write_text(TINY_SPACE)
    sizes = {k: str(v) for k, v in TINY["addition"].items()}
    tune(TuneSettings(problem="addition", architectures="encoder_decoder", trials=2, seeds=2, timeout=None,
                      space=str(space), data=sizes, runs_dir=root / "runs", progress=False))
    result = report(ReportSettings(problem="addition", top_k=1, repeats=2, ensemble=1, runs_dir=root / "runs",
                                   out_dir=root / "out", progress=False))
    tracker = Tracker.embedded(root / "runs")
    return tracker, MlflowClient(tracker.uri), result


def inputs(run) -> dict[str, str]:
    """Dataset name -> context of a run's inputs (each with a digest)."""
    found = {}
    for item in run.inputs.dataset_inputs:
        assert len(item.dataset.digest) == 8 and item.dataset.source_type in ("code", "local")
        assert "mlflow_tensorspec" in item.dataset.schema
        found[item.dataset.name] = {t.key: t.value for t in item.tags}["mlflow.data.context"]
    return found


def runs_of(client, experiment_id: str, role: str) -> list:
    return client.search_runs([experiment_id], f"tags.role = '{role}'")


def test_the_experiment_is_one_of_model_training(store):
    tracker, client, _ = store
    experiment = client.get_experiment_by_name("lstm-addition")
    assert experiment.tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1] == "custom_model_development"
    client.delete_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND[0])  # an experiment of an older version:
    assert tracker.experiment_id("lstm-addition") == experiment.experiment_id  # tagged when next used
    assert client.get_experiment(experiment.experiment_id).tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1]


def test_the_data_is_logged_as_datasets_on_every_run(store):
    _, client, _ = store
    experiment_id = client.get_experiment_by_name("lstm-addition").experiment_id
    tuning = {"addition-train": "training", "addition-validation": "validation"}
    for role in ("study", "trial"):
        assert all(inputs(run) == tuning for run in runs_of(client, experiment_id, role)), role
    for run in runs_of(client, experiment_id, "candidate"):
        assert inputs(run) == {**tuning, "addition-test": "test"}
    final, = runs_of(client, experiment_id, "final")
    assert inputs(final) == {"addition-train": "training", "addition-validation": "training", "addition-test": "test"}
    source = json.loads(final.inputs.dataset_inputs[0].dataset.source)["tags"]
    assert source["problem"] == "addition" and source["seed"] == "0" and source["n_train"] == "64"
    digests = {run.info.run_id: {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
               for run in runs_of(client, experiment_id, "trial") + [final]}
    assert len({d["addition-train"] for d in digests.values()}) == 1  # the same data, the same digest


def test_the_registered_version_s_run_carries_its_training_data(store):
    tracker, client, result = store
    version = Registry(tracker).alias("lstm-addition", CHAMPION)
    run = client.get_run(version.run_id)
    assert run.data.tags["role"] == "final" and result.finalized.version == str(version.version)
    assert {name for name, context in inputs(run).items() if context == "training"} == {
        "addition-train", "addition-validation"}
    model = client.get_logged_model(version.source.removeprefix("models:/"))  # MLflow 3's model (the version's
    # source; a SQL registry keeps no model_id): its source run, its test score on the test dataset, its versions
    assert model.source_run_id == run.info.run_id and any(m.dataset_name == "addition-test" for m in model.metrics)
    assert json.loads(model.tags["mlflow.modelVersions"]) == [{"name": "lstm-addition", "version": version.version}]


def test_candidates_have_seed_runs_grouped_for_the_charts_and_rows_that_name_their_runs(store):
    tracker, client, result = store
    experiment = client.get_experiment_by_name("lstm-addition")
    view = json.loads(experiment.tags[f"mlflow.sharedViewState.{CANDIDATES_VIEW}"])
    assert view["groupBy"]["groupByKeys"] == [{"mode": "tag", "groupByData": CANDIDATE_TAG}]
    seeds = client.search_runs([experiment.experiment_id], view["searchFilter"])
    assert {r.data.tags[CANDIDATE_TAG] for r in seeds} == {c.name for c in result.candidates}
    assert len(seeds) == 2 * len(result.candidates) and all("test_accuracy" in r.data.metrics for r in seeds)
    assert all(r.data.metrics["epochs"] >= 1 and "val_loss" in r.data.metrics for r in seeds)
    html = result.html.read_text()
    for run in runs_of(client, experiment.experiment_id, "candidate"):
        assert f"re-evaluation {run.info.run_id}" in html
    trial_runs = [c.trial_run for c in result.candidates if c.trial_run]
    assert trial_runs and all(f"tuning trial {run_id}" in html for run_id in trial_runs)
    lines = pages(tracker, "addition", "http://127.0.0.1:5123")
    assert f"http://127.0.0.1:5123/#/experiments/{experiment.experiment_id}/runs?" in lines[0]
    assert f"viewStateShareKey={CANDIDATES_VIEW}" in lines[1]
