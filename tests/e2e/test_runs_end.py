"""Every MLflow run a stage starts ends, also when the stage fails midway: FAILED on an error, KILLED on
Ctrl-C, with a `reason` tag (the exception's type and first line); none is left RUNNING."""
import importlib

import pytest
from mlflow.tracking import MlflowClient

from pipeline.stages import report as report_stage, retune as retune_stage
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.retune import RetuneSettings, retune
from pipeline.stages.tune import TuneSettings, tune
from tests_helpers import TINY_SPACE

DATA = {"n_train": "32", "n_val": "16", "n_test": "16"}
finalize_module = importlib.import_module("pipeline.champion.finalize")  # the package exports a function of that name


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs_end")
    (root / "space.yaml").write_text(TINY_SPACE)
    tune(TuneSettings(problem="echo", architectures="vanilla", trials=2, seeds=2, timeout=None, space=str(root / "space.yaml"),
                      data=DATA, runs_dir=root / "runs", progress=False))
    return root


def report_settings(root):
    return ReportSettings(problem="echo", top_k=1, repeats=2, ensemble=1, runs_dir=root / "runs", out_dir=root / "out",
                          progress=False)


def client_of(root):
    client = MlflowClient(f"sqlite:///{(root / 'runs').resolve() / 'mlflow.db'}")
    return client, client.get_experiment_by_name("lstm-echo").experiment_id


def latest(root, role):
    """The newest run with this role and the runs nested under it (and under those)."""
    client, experiment = client_of(root)
    run = client.search_runs([experiment], f"tags.role = '{role}'", order_by=["start_time DESC"], max_results=1)[0]
    tree, parents = [], [run.info.run_id]
    while parents:
        children = [c for p in parents for c in client.search_runs([experiment], f"tags.mlflow.parentRunId = '{p}'")]
        tree += children
        parents = [c.info.run_id for c in children]
    return run, tree


def assert_nothing_running(root):
    client, experiment = client_of(root)
    running = client.search_runs([experiment], "attributes.status = 'RUNNING'")
    assert [(r.info.run_name, r.data.tags.get("role")) for r in running] == []


def test_a_report_that_fails_midway_ends_its_run_failed_with_the_reason(tuned, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the document broke\nsecond line of the message")

    monkeypatch.setattr(report_stage, "report_sections", broken)
    with pytest.raises(RuntimeError, match="the document broke"):
        report(report_settings(tuned))
    run, children = latest(tuned, "report")
    assert run.info.status == "FAILED" and run.data.tags["reason"] == "RuntimeError: the document broke"
    assert children and {c.info.status for c in children} == {"FINISHED"}  # each candidate was logged in full
    assert_nothing_running(tuned)


def test_a_finalize_interrupted_midway_ends_its_runs_killed(tuned, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(finalize_module, "log_problem_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report(report_settings(tuned))
    run, children = latest(tuned, "report")
    final = [c for c in children if c.data.tags["role"] == "final"]
    assert len(final) == 1 and final[0].info.status == "KILLED" and final[0].data.tags["reason"] == "KeyboardInterrupt"
    assert run.info.status == "KILLED" and run.data.tags["reason"] == "KeyboardInterrupt"
    assert_nothing_running(tuned)


def test_a_retune_that_fails_midway_ends_its_run_failed_with_the_reason(tuned, monkeypatch):
    report(report_settings(tuned))  # a champion to retune

    def broken(*args, **kwargs):
        raise ValueError("no decision today")

    monkeypatch.setattr(retune_stage, "decide_promotion", broken)
    with pytest.raises(ValueError, match="no decision today"):
        retune(RetuneSettings(problem="echo", repeats=2, extra_epochs=1, trials=1, tune_seeds=2,
                              runs_dir=tuned / "runs", progress=False))
    run, children = latest(tuned, "retune")
    assert run.info.status == "FAILED" and run.data.tags["reason"] == "ValueError: no decision today"
    assert children and {c.info.status for c in children} == {"FINISHED"}  # the short study's trial and seed runs
    assert_nothing_running(tuned)
