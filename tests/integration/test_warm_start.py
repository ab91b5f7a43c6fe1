"""Warm start: a new study begins with the reference and the best configurations of earlier studies."""
import optuna

from pipeline.cli import main


def test_a_new_study_starts_from_the_reference_and_the_best_of_earlier_studies(tmp_path):
    def tune(tag, trials):
        return main(["tune", "--problem", "echo", "--arch", "vanilla", "--trials", str(trials), "--seeds", "2",
                     "--runs-dir", str(tmp_path), "--no-report", "--no-progress", "--timeout", "0", "--tag", tag,
                     "--pruner", "hyperband", "--data", "n_train=64 n_val=32 n_test=32"])

    assert tune("first", 4) == 0
    storage = f"sqlite:///{tmp_path}/optuna.db"
    first = optuna.load_study(study_name="echo-vanilla-first", storage=storage)
    best = sorted((t for t in first.trials if t.state.name == "COMPLETE"), key=lambda t: -t.value)[:2]
    assert tune("second", 3) == 0
    second = optuna.load_study(study_name="echo-vanilla-second", storage=storage).trials
    assert second[0].user_attrs.get("reference") and second[0].params == first.trials[0].params
    warm = [t for t in second if t.user_attrs.get("warm_start") == "echo-vanilla-first"]
    assert {tuple(sorted(t.params.items())) for t in warm} == {tuple(sorted(t.params.items())) for t in best
                                                                if t.params != first.trials[0].params}
