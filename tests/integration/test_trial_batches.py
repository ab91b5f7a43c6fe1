"""Trial batches: configurations that share a structure train as the towers of one model, each exactly
as it would alone; a batch's trials are pruned, fail, are logged and told on their own."""
import numpy as np
import optuna
import pytest

from search_spaces import references
from pipeline.cli import main
from pipeline.errors import NonFiniteLoss
from pipeline.training.towers.fused import Group, train_groups
from pipeline.training.listeners import SeedListener
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.problems import get_problem
from pipeline.training.towers.per_tower import PER_TOWER, structure
from tests_helpers import tiny_data


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_each_configuration_of_a_batch_learns_exactly_what_it_learns_alone(optimizer):
    """Different learning rates, schedules, L2 and initializers in one model; one full batch per epoch and no
    dropout (so batch order and masks cannot differ): every tower's weights equal its own separate run's."""
    problem, train, val = tiny_data("echo")
    base = {**references.reference_hp("echo"), "units": 6, "dropout": 0.0, "epochs": 3, "patience": 0,
            "batch_size": len(train[0]), "optimizer": optimizer}
    hps = [{**base, "learning_rate": 0.5 if optimizer == "sgd" else 0.01},
           {**base, "learning_rate": 0.05 if optimizer == "sgd" else 0.001, "l2": 0.01,
            "kernel_initializer": "glorot_normal", "lr_schedule": "cosine"}]
    batched = train_groups(problem, "vanilla", [Group(hp, [3, 4], SeedListener()) for hp in hps], train, val,
                           keep_models=True)
    for hp, runs in zip(hps, batched):
        alone = train_seeds(problem, "vanilla", hp, [3, 4], train, val,
                            options=TrainOptions(keep_models=True, fuse=False))
        assert [r.towers for r in runs] == [4, 4]
        for b, a in zip(runs, alone):
            for wb, wa in zip(b.model.get_weights(), a.model.get_weights()):
                np.testing.assert_allclose(wb, wa, atol=3e-5)
            np.testing.assert_allclose(b.history["val_loss"], a.history["val_loss"], rtol=1e-4)
    assert batched[0][0].score != batched[1][0].score
    constant = train_seeds(problem, "vanilla", {**hps[1], "lr_schedule": "constant"}, [3], train, val,
                           options=TrainOptions(keep_models=True, fuse=False))[0]
    assert not np.allclose(constant.model.get_weights()[0], batched[1][0].model.get_weights()[0], atol=1e-4)


class _PruneAt(SeedListener):
    def __init__(self, epoch):
        self.at, self.seen = epoch, []

    def epoch(self, seed_index, epoch, values):
        self.seen.append(epoch)
        if epoch == self.at:
            raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")


def test_a_stopped_configuration_ends_alone_and_the_batch_trains_on():
    problem = get_problem("damped_sine", length=10)
    splits = problem.splits(seed=0, n_train=64, n_val=32, n_test=8)
    train, val = (splits.x_train, splits.y_train), (splits.x_val, splits.y_val)
    hp = {"units": 32, "activation": "relu", "optimizer": "sgd", "epochs": 5, "patience": 0,
          "kernel_initializer": "random_uniform", "learning_rate": 0.01}
    pruned, kept, diverged = _PruneAt(0), _PruneAt(-1), _PruneAt(-1)
    results = train_groups(problem, "vanilla", [Group(hp, [0, 1], pruned), Group(hp, [0, 1], kept),
                                                Group({**hp, "learning_rate": 10.0}, [0, 1], diverged)],
                           train, val)
    assert isinstance(results[0], optuna.TrialPruned) and pruned.seen == [0]
    assert isinstance(results[2], NonFiniteLoss) and len(diverged.seen) < 5  # as in test_training: it diverges
    assert [r.epochs for r in results[1]] == [5, 5] and kept.seen == [0, 1, 2, 3, 4]
    alone = train_seeds(problem, "vanilla", hp, [0, 1], train, val)
    assert [r.score for r in results[1]] == pytest.approx([r.score for r in alone], rel=1e-4)


def test_a_tuned_batch_shares_its_structure_and_logs_every_trial(tmp_path):
    code = main(["tune", "--problem", "echo", "--arch", "vanilla", "--trials", "6", "--seeds", "2", "--batch", "3",
                 "--runs-dir", str(tmp_path), "--no-report", "--no-progress", "--timeout", "0",
                 "--data", "n_train=64 n_val=32 n_test=32"])
    assert code == 0
    study = optuna.load_study(study_name="echo-vanilla", storage=f"sqlite:///{tmp_path}/optuna.db")
    trials = study.get_trials()
    assert [t.state.name for t in trials].count("COMPLETE") + [t.state.name for t in trials].count("PRUNED") == 6
    for batch in (trials[0:3], trials[3:6]):
        shapes = [structure(t.params) for t in batch]
        assert shapes[0] == shapes[1] == shapes[2]  # siblings share the leader's structure
        assert len({tuple(sorted((k, v) for k, v in t.params.items() if k in PER_TOWER)) for t in batch}) > 1
    assert len({t.user_attrs["mlflow_run_id"] for t in trials}) == 6  # each trial its own MLflow run
    assert all(len(t.user_attrs["seed_scores"]) == 2 for t in trials if t.state.name == "COMPLETE")


def test_a_batch_too_wide_for_memory_trains_in_as_many_models_as_fit(tmp_path, monkeypatch):
    """When one training step of all the batch's towers would not fit in memory (videos), the batch is split
    into models that do; every trial still trains and is told."""
    from pipeline.training.towers import fused
    from pipeline.search import trial_batches
    widths = []
    real = trial_batches.train_groups

    def recording(problem, architecture, groups, *args, **kwargs):
        widths.append(sum(len(g.seeds) for g in groups))
        return real(problem, architecture, groups, *args, **kwargs)
    monkeypatch.setattr(trial_batches, "train_groups", recording)
    monkeypatch.setattr(fused, "towers_that_fit", lambda plain, batch_size: 4)
    code = main(["tune", "--problem", "echo", "--arch", "vanilla", "--trials", "3", "--seeds", "2", "--batch", "3",
                 "--runs-dir", str(tmp_path), "--no-report", "--no-progress", "--timeout", "0",
                 "--data", "n_train=64 n_val=32 n_test=32"])
    assert code == 0
    assert widths == [6, 4]  # 3 trials x 2 seeds did not fit; 2 trials did, the third trained alone
    study = optuna.load_study(study_name="echo-vanilla", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert [t.state.name in ("COMPLETE", "PRUNED") for t in study.trials] == [True] * 3
