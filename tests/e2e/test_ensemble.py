"""The final model as a seed ensemble: one Keras model averaging its seed models (also for problems that
score by running the model), packaged and served like one model; the rule that registers it; the report's
single seed vs ensemble table and the registered version's own test score."""
import html
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.settings import JobSettings
from pipeline.architectures import build_model, resolve
from pipeline.champion import ChampionRecord, raw_examples
from pipeline.champion.ensemble import Rivals, choose, ensemble_model, members, refit
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.problems import get_problem
from pipeline.stages.predict import predict
from pipeline.stages.report import ReportSettings, report
from pipeline.stages.tune import TuneSettings, tune
from tracking.tracker import Tracker
from tracking.packaging import load_parts, log_problem_model
from tracking.registry import CHAMPION, Registry, load_model

from conftest import TINY
from test_report import html_tables

SEEDS = [100000, 100001, 100002]
HP = {"units": 4, "epochs": 2, "batch_size": 32, "patience": 0}


def tiny_splits(name):
    sizes = {k: v for k, v in TINY[name].items() if k.startswith("n_")}
    problem = get_problem(name, **{k: v for k, v in TINY[name].items() if not k.startswith("n_")})
    return problem, problem.splits(seed=0, **sizes)


@pytest.mark.parametrize("name, architecture", [("echo", "vanilla"),  # softmax head, fused towers
                                                ("cumulative_sum", "vanilla"),  # sigmoid head
                                                ("shape_generation", "generative")])  # evaluate() runs the model
def test_ensemble_is_the_mean_of_its_seed_models_and_packages_as_one_model(name, architecture, tmp_path):
    problem, splits = tiny_splits(name)
    runs = train_seeds(problem, architecture, HP, SEEDS, splits.train_plus_validation(),
                       options=TrainOptions(keep_models=True))
    ensemble = ensemble_model([r.model for r in runs], SEEDS)
    assert [m.name for m in members(ensemble)] == [f"seed_{s}" for s in SEEDS]
    each = [r.model.predict(splits.x_test, verbose=0) for r in runs]
    np.testing.assert_allclose(ensemble.predict(splits.x_test, verbose=0), np.mean(each, axis=0), atol=1e-6)
    problem.evaluate(ensemble, splits.x_test, splits.y_test)  # also where evaluate() feeds predictions back

    tracker = Tracker.embedded(tmp_path / "runs")  # packaged, then loaded as the server and retune load it
    raw = raw_examples(problem, splits.x_test[:4])
    answers = problem.predict_raw(ensemble, raw)
    with tracker.run(tracker.experiment_id(f"lstm-{name}"), "final", "final") as run:
        uri = log_problem_model(tracker, run, ensemble, problem.state(), raw[:2], answers[:2])
    assert list(load_model(uri).predict(pd.DataFrame({"input": raw}))) == answers
    loaded, _ = load_parts(uri)
    assert len(members(loaded)) == len(SEEDS)
    plain = build_model(architecture, problem, resolve(HP))  # retune continues an ensemble's first seed model
    plain.set_weights(members(loaded)[0].get_weights())
    np.testing.assert_allclose(plain.predict(splits.x_test, verbose=0), each[0], atol=1e-6)


def test_refit_registers_the_chosen_model_and_its_own_score():
    problem, splits = tiny_splits("shape_generation")  # trains seed by seed: the generative model does not fuse
    model, choice = refit(problem, "generative", HP, SEEDS, splits)
    assert choice.seeds == SEEDS and len(choice.seed_scores) == 3 and choice.ensemble_score is not None
    assert len(members(model)) == (3 if choice.registered_ensemble else 1)
    assert problem.evaluate(model, splits.x_test, splits.y_test)["mae"] == pytest.approx(choice.score, abs=1e-6)


SEED_SCORES = [0.30, 0.32, 0.31]


@pytest.mark.parametrize("shift, registered", [
    (-0.05, True),  # the ensemble's loss is lower on most items
    (0.0, False),  # the same losses: one model serves cheaper
    (0.05, False),  # worse
])
def test_the_ensemble_is_registered_only_when_it_beats_the_single_seed_on_the_items(shift, registered):
    single = np.random.default_rng(0).exponential(0.3, 200)  # skewed per-item losses (squared errors)
    ensemble = single + shift + np.random.default_rng(1).normal(0, 0.02, 200) * (shift != 0)
    choice = choose(SEEDS, SEED_SCORES, "mse", Rivals(0.25, ensemble, single))
    assert choice.registered_ensemble is registered
    assert choice.score == pytest.approx(0.25 if registered else SEED_SCORES[0])
    assert choice.kind == ("ensemble of 3 seeds" if registered else "single seed 100000")
    assert choice.rule.startswith(f"{choice.kind} registered") and "same 200 test items" in choice.rule
    assert (choice.p_value < 0.05) is registered and "paired t-test over items" in choice.rule


def test_on_classification_the_ensemble_rule_is_mcnemars_test_of_the_discordant_items():
    single, ensemble = np.zeros(1000), np.zeros(1000)
    single[:20] = 1  # 20 items only the ensemble gets right, 5 only the single model
    ensemble[20:25] = 1
    choice = choose(SEEDS, SEED_SCORES, "accuracy", Rivals(0.985, ensemble, single))
    assert choice.registered_ensemble and "McNemar" in choice.rule and choice.p_value == pytest.approx(0.002, abs=1e-3)
    assert "20 items right only by the first, 5 only by the second" in choice.rule


def test_the_rule_rarely_registers_an_ensemble_that_is_no_better_and_detects_one_that_is():
    """Per-item loss differences of mean 0 (A/A) and of 0.3 SD, 200 items, 200 repetitions each."""
    rng = np.random.default_rng(2)
    single = rng.normal(0.3, 0.1, (200, 200))
    noise = rng.standard_normal((200, 200)) * 0.05

    def rate(shift):
        return np.mean([choose(SEEDS, SEED_SCORES, "mae", Rivals(float((s + n + shift).mean()), s + n + shift, s))
                        .registered_ensemble for s, n in zip(single, noise)])
    assert rate(0.0) <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 200)
    assert rate(-0.3 * 0.05) >= 0.9


def test_one_seed_registers_that_seed():
    choice = choose([100000], [0.4], "mae")
    assert not choice.registered_ensemble and choice.score == 0.4 and "one seed refit" in choice.rule


def test_the_record_keeps_the_side_by_side_scores():
    record = ChampionRecord("vanilla", {"units": 4}, "mae", "minimize", [0.3, 0.31], [100000, 100001],
                            model_kind="ensemble of 3 seeds", model_test=0.25, ensemble_test=0.25,
                            final_seeds=[100000, 100001, 100002], seed_tests=[0.3, 0.32, 0.31], ensemble_rule="r")
    tags = record.to_tags()
    assert json.loads(tags["seed_tests"]) == [0.3, 0.32, 0.31] and tags["model_test"] == "0.25"
    assert ChampionRecord.from_tags(tags) == record


SPACE = """
extends: common
params:
  units: 4
  batch_size: 32
  epochs: 2
  patience: 0
"""


def test_report_shows_single_seed_vs_ensemble_and_registers_the_chosen_model_with_its_score(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE)
    runs = tmp_path / "runs"
    tune(TuneSettings(problem="damped_sine", architectures="vanilla", trials=1, seeds=2, timeout=None,
                      space=str(tmp_path / "space.yaml"), data={k: str(v) for k, v in TINY["damped_sine"].items()},
                      runs_dir=runs, progress=False))
    result = report(ReportSettings(problem="damped_sine", top_k=1, repeats=2, ensemble=3, runs_dir=runs,
                                   out_dir=tmp_path / "out", progress=False))
    choice = result.finalized.choice
    table = next(t for t in html_tables(result.html.read_text()) if t[0][:2] == ["model", "test mae"])
    assert [row[0] for row in table[1:]] == ["single seed, mean over 3 seeds", "single seed 100000",
                                             "ensemble of 3 seeds (mean output)"]
    assert [row[3] for row in table[1:]].count("yes") == 1 and html.escape(choice.rule) in result.html.read_text()
    assert "| single seed, mean over 3 seeds |" in result.markdown.read_text()

    version = Registry(Tracker.embedded(runs)).alias("lstm-damped_sine", CHAMPION)
    record = ChampionRecord.from_tags(version.tags)
    assert record.model_kind == choice.kind and record.final_seeds == SEEDS and len(record.seed_tests) == 3
    model, _ = load_parts("models:/lstm-damped_sine@champion")  # the registered model scores what it records
    problem, splits = tiny_splits("damped_sine")
    assert problem.evaluate(model, splits.x_test, splits.y_test)["mae"] == pytest.approx(record.model_test, abs=1e-5)
    assert len(members(model)) == (3 if choice.registered_ensemble else 1)
    assert record.model_test == result.finalized.test_score == choice.score
    raw = raw_examples(problem, splits.x_test[:2])
    assert [p for _, p in predict("damped_sine", raw, "champion", JobSettings(runs_dir=runs))] == problem.predict_raw(model, raw)
