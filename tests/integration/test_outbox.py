"""A trial's MLflow writes are whole after an outage, wherever it strikes.

The tracking server is cut at each of a trial's calls in turn: before the call reaches it, or after it
applied the call but before it answered. The trial goes on, its journal is replayed, and the run tree must
equal the one written without an outage: params, tags, metrics (each step once, with its timestamp),
artifacts, the model and the run's status. The same holds when the replay itself is cut off and run again.
Real MLflow (SQLite) behind the cut; only the connection fails.
"""
import copy

import numpy as np
import pytest

from pipeline.search.outcome import COMPLETE
from pipeline.training.one_seed import SeedRun
from pipeline.problems import get_problem
from pipeline.problems.data_spec import DataSpec
from tracking import outbox
from tracking.datasets import split_datasets
from tracking.outbox import replay
from tracking.run_tree import RunScope, TrialRuns
from tracking.tracker import STUDY, Tracker

HP = {"units": 7, "batch_size": 16, "optimizer": "adam", "learning_rate": 0.001}
SEEDS = (0, 1)
VOLATILE_TAGS = {"mlflow.parentRunId", "mlflow.log-model.history"}  # run ids differ between stores
ECHO = get_problem("echo")
DATA = DataSpec({}, {"n_train": 8, "n_val": 4, "n_test": 4}, 0)
INPUTS = split_datasets(ECHO, DATA, DATA.splits(ECHO)).tuning()  # the trial's datasets, training and validation


class Outage:
    """A real MlflowClient whose server dies at its `at`-th call (1-based): with `applied`, that call
    reaches the server and only its answer is lost. Every later call fails."""

    def __init__(self, client, at: int, applied: bool) -> None:
        self.client, self.at, self.applied, self.calls = client, at, applied, 0

    def __getattr__(self, name):
        method = getattr(self.client, name)

        def call(*args, **kwargs):
            self.calls += 1
            if self.calls < self.at:
                return method(*args, **kwargs)
            if self.calls == self.at and self.applied:
                method(*args, **kwargs)
            raise ConnectionError(f"the tracking server died ({name})")
        return call


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(4), keras.layers.Dense(2)])
    net.compile("adam", "mse")
    return net


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(outbox, "PAUSE", 0.0)


@pytest.fixture(scope="module")
def tracker(tmp_path_factory):
    """One embedded store for every case: each case is a study run of its own, with its own outbox."""
    return Tracker.embedded(tmp_path_factory.mktemp("store") / "runs")


def study_run(tracker: Tracker, outbox_dir) -> RunScope:
    tracker = copy.copy(tracker)  # its own outbox and its own (cut) client
    tracker.outbox = outbox_dir
    experiment = tracker.experiment_id("lstm-echo")
    return RunScope(tracker, experiment, tracker.start_run(experiment, "study", STUDY))


def write_trial(study: RunScope, model) -> None:
    """One trial as the objective drives it: two seeds, a tag, the best model, the summary."""
    runs = TrialRuns(study, "echo-vanilla", "accuracy", 0, HP, {"trial": 0, "reference": False}, INPUTS)
    runs.started(list(SEEDS))
    seeds = [SeedRun(seed, 0.5 + seed / 10, {"accuracy": 0.5 + seed / 10, "loss": 1.0 - seed / 10},
                     {"loss": [1.2, 0.9], "val_loss": [1.3, 1.0 - seed / 10]}, 2, 2, model.count_params(), 0.25,
                     model=model) for seed in SEEDS]
    for index, run in enumerate(seeds):
        runs.finished(index, run)
    runs.tag({"racing": "kept"})
    runs.log_model(model, np.zeros((1, 3, 2), dtype="float32"))
    runs.close(COMPLETE, seeds, {"mean": 0.55, "std": 0.05})


def has_model(client, experiment_id: str, run_id: str) -> bool:
    """The trial's model, as a run artifact (logged from the outbox) or as MLflow 3's logged model."""
    if "model/MLmodel" in {a.path for a in client.list_artifacts(run_id, "model")}:
        return True
    return bool(client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'"))


def snapshot(study: RunScope) -> dict:
    """The study's trial and seed runs by (role, seed): everything a user can read of them."""
    client = MlflowClientOf(study)
    runs = client.search_runs([study.experiment_id], f"tags.mlflow.parentRunId = '{study.run_id}'")
    seeds = {r.info.run_id: r for r in runs}
    for run in runs:
        seeds.update({r.info.run_id: r for r in client.search_runs(
            [study.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")})
    tree = {}
    for run in seeds.values():
        key = (run.data.tags["role"], run.data.tags.get("seed"))
        assert key not in tree, f"{key} logged twice"
        metrics = {name: sorted((m.step, m.value, m.timestamp) for m in client.get_metric_history(run.info.run_id, name))
                   for name in run.data.metrics}
        assert all(len({s for s, _, _ in rows}) == len(rows) for rows in metrics.values()), f"{key}: a step logged twice"
        assert run.data.tags["mlflow.parentRunId"] in seeds.keys() | {study.run_id}
        tree[key] = {"status": run.info.status, "params": run.data.params,
                     "tags": {k: v for k, v in run.data.tags.items() if k not in VOLATILE_TAGS},
                     "metrics": metrics,
                     "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id) if a.path != "model"),
                     "inputs": sorted((d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.schema,
                                       tuple(sorted((t.key, t.value) for t in d.tags)))
                                      for d in run.inputs.dataset_inputs),
                     "model": has_model(client, study.experiment_id, run.info.run_id)}
    return tree


def MlflowClientOf(study: RunScope):
    from mlflow.tracking import MlflowClient

    return MlflowClient(study.tracker.uri)


def without_times(tree: dict) -> dict:
    """The tree with metric timestamps dropped: a write stamps its rows when the trial makes them."""
    return {key: {**run, "metrics": {k: [(s, v) for s, v, _ in rows] for k, rows in run["metrics"].items()}}
            for key, run in tree.items()}


@pytest.fixture(scope="module")
def reference(tracker, tmp_path_factory, model):
    """The tree written with no outage, and how many client calls the trial makes."""
    study = study_run(tracker, tmp_path_factory.mktemp("reference"))
    counter = Outage(study.tracker.client, at=10**9, applied=False)
    study.tracker.client = counter
    write_trial(study, model)
    study.tracker.client = counter.client
    return without_times(snapshot(study)), counter.calls


def cut_and_replay(tracker, outbox_dir, model, at: int, applied: bool) -> RunScope:
    study = study_run(tracker, outbox_dir)
    healthy = study.tracker.client
    study.tracker.client = Outage(healthy, at, applied)
    write_trial(study, model)
    study.tracker.client = healthy  # the server is back
    replay(study.tracker, study.tracker.outbox)
    assert not list(study.tracker.outbox.glob("*/journal.jsonl"))
    return study


def test_every_call_cut_before_or_after_it_reached_the_server_replays_to_the_same_runs(tracker, tmp_path, model,
                                                                                       reference):
    expected, calls = reference
    assert calls >= 15, "the trial makes every kind of write: runs, params, inputs, metrics, tags, text, figure, model"
    assert [name for name, *_ in expected[("trial", None)]["inputs"]] == ["echo-train", "echo-validation"]
    for at in range(1, calls + 1):
        for applied in (False, True):
            study = cut_and_replay(tracker, tmp_path / f"{at}-{applied}", model, at, applied)
            got = without_times(snapshot(study))
            for key in expected:
                assert got.get(key) == expected[key], (f"cut at call {at} ({'applied' if applied else 'lost'}): "
                                                      f"{key} differs")
            assert got.keys() == expected.keys()


def test_replay_cut_off_at_each_call_then_run_again_gives_the_same_runs(tracker, tmp_path, model, reference):
    expected, _ = reference
    cuts = []
    for at in range(1, 100):
        for applied in (False, True):
            study = study_run(tracker, tmp_path / f"{at}-{applied}")
            healthy = study.tracker.client
            study.tracker.client = Outage(healthy, 1, applied=False)  # the whole trial waits on disk
            write_trial(study, model)
            study.tracker.client = Outage(healthy, at, applied)
            try:
                replay(study.tracker, study.tracker.outbox)
            except ConnectionError:
                cuts.append(at)
            study.tracker.client = healthy
            replay(study.tracker, study.tracker.outbox)  # run again (a no-op where the first was not cut)
            assert not list(study.tracker.outbox.glob("*/journal.jsonl"))
            assert without_times(snapshot(study)) == expected, f"replay cut at call {at} ({applied=}), run again"
        if at not in cuts:  # the replay made fewer than `at` calls: every cut point was tried
            break
    assert len(cuts) >= 20, "the replay makes every kind of write"
