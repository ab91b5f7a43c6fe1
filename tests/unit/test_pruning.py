"""The seed-aware pruner: the median rule, never on the first seed nor in a seed's first half of epochs."""
import optuna
import pytest

from pipeline.errors import UsageError
from pipeline.search.pruning import SeedAwarePruner, make_pruner

MAX_EPOCHS = 4
SEEDS = 2


def study_with_history(complete: int = 5) -> optuna.Study:
    """`complete` finished trials that reported 0.9 at every step of two seeds (maximize)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", MAX_EPOCHS))
    steps = {step: 0.9 for step in range(SEEDS * MAX_EPOCHS)}
    for _ in range(complete):
        study.add_trial(optuna.trial.create_trial(value=0.9, intermediate_values=steps))
    return study


def pruned_at(study: optuna.Study, step: int, value: float = 0.1) -> bool:
    trial = study.ask()
    trial.report(value, step)
    return trial.should_prune()


def test_make_pruner_names():
    assert isinstance(make_pruner("median", MAX_EPOCHS), SeedAwarePruner)
    assert isinstance(make_pruner("none", MAX_EPOCHS), optuna.pruners.NopPruner)
    assert make_pruner("hyperband", MAX_EPOCHS, SEEDS).rule == "hyperband"
    assert make_pruner("halving", MAX_EPOCHS, SEEDS).rule == "halving"
    with pytest.raises(UsageError, match="unknown pruner 'nope'; choose one of: halving, hyperband, median, none"):
        make_pruner("nope", MAX_EPOCHS)


def test_never_on_the_first_seed():
    study = study_with_history()
    assert not any(pruned_at(study, step) for step in range(MAX_EPOCHS))


def test_never_in_the_first_half_of_a_seed():
    study = study_with_history()
    # second seed: step 4 + epoch; epochs 0 and 1 of 4 are the first half
    assert [pruned_at(study, MAX_EPOCHS + epoch) for epoch in range(MAX_EPOCHS)] == [False, False, True, True]


def test_a_good_running_mean_or_too_few_trials_go_on():
    assert not pruned_at(study_with_history(), MAX_EPOCHS + 3, value=0.95)
    assert not pruned_at(study_with_history(complete=4), MAX_EPOCHS + 3)


def test_no_report_no_prune():
    study = study_with_history()
    assert not study.ask().should_prune()


def test_hyperband_judges_means_over_every_seed_at_its_rungs():
    """Epoch budgets 1, 3, 9 (reduction factor 3) counted on the last seed's steps, where the reported
    value is the mean over all seeds; a configuration only a third as good as the others' at a rung stops."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    max_epochs, seeds = 9, 3
    study = optuna.create_study(study_name="rungs", direction="maximize",  # brackets hash the name
                                pruner=make_pruner("hyperband", max_epochs, seeds))
    offset = (seeds - 1) * max_epochs
    good = [study.ask() for _ in range(6)]
    for trial in good:
        for step in range(offset + max_epochs):
            trial.report(0.9, step)
            assert not trial.should_prune()
        study.tell(trial, 0.9)
    stopped_at = []
    for _ in range(6):  # poor configurations: each bracket stops them at its first rung
        trial = study.ask()
        for step in range(offset):  # earlier seeds' steps: never judged, however poor
            trial.report(0.1, step)
            assert not trial.should_prune()
        for step in range(offset, offset + max_epochs):
            trial.report(0.1, step)
            if trial.should_prune():
                stopped_at.append(step - offset + 1)
                break
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert len(stopped_at) == 6 and set(stopped_at) <= {1, 3, 9} and min(stopped_at) == 1


def test_successive_halving_stops_a_poor_configuration_at_its_first_rung_on_the_mean_over_seeds():
    """Rungs at 1, 3, 9 epochs on the last seed's steps: a configuration far below the others stops
    after one epoch; the earlier seeds' steps are never judged."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    max_epochs, seeds = 9, 3
    study = optuna.create_study(direction="maximize", pruner=make_pruner("halving", max_epochs, seeds))
    offset = (seeds - 1) * max_epochs
    for _ in range(6):
        trial = study.ask()
        for step in range(offset + max_epochs):
            trial.report(0.9, step)
            assert not trial.should_prune()
        study.tell(trial, 0.9)
    for _ in range(3):
        trial = study.ask()
        for step in range(offset):
            trial.report(0.1, step)
            assert not trial.should_prune()
        trial.report(0.1, offset)
        assert trial.should_prune()
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
