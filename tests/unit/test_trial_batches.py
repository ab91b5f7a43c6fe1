"""Trial batches: configurations that share a structure train as the towers of one model, each exactly
as it would alone; a batch's trials are pruned, fail, are logged and told on their own."""
import keras
import numpy as np
import optuna
import pytest

from conftest import TINY
from search_spaces import references
from pipeline.cli import main
from pipeline.architectures import build_model, resolve
from pipeline.architectures.common import learning_rate_at
from pipeline.errors import NonFiniteLoss
from pipeline.training.towers.fused import Group, train_groups
from pipeline.training.towers.live import LiveTowers, worth_rebuilding
from pipeline.training.listeners import SeedListener
from pipeline.training.multi_seed import train_seeds
from pipeline.problems import get_problem
from pipeline.training.seeding import seed_everything
from pipeline.training.towers.layers import TowerLSTM
from pipeline.training.towers.per_tower import PER_TOWER, structure


def _data(name):
    sizes = {k: v for k, v in TINY[name].items() if k.startswith("n_")}
    problem = get_problem(name)
    splits = problem.splits(seed=0, **sizes)
    return problem, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_each_configuration_of_a_batch_learns_exactly_what_it_learns_alone(optimizer):
    """Different learning rates, schedules, L2 and initializers in one model; one full batch per epoch and no
    dropout (so batch order and masks cannot differ): every tower's weights equal its own separate run's."""
    problem, train, val = _data("echo")
    base = {**references.reference_hp("echo"), "units": 6, "dropout": 0.0, "epochs": 3, "patience": 0,
            "batch_size": len(train[0]), "optimizer": optimizer}
    hps = [{**base, "learning_rate": 0.5 if optimizer == "sgd" else 0.01},
           {**base, "learning_rate": 0.05 if optimizer == "sgd" else 0.001, "l2": 0.01,
            "kernel_initializer": "glorot_normal", "lr_schedule": "cosine"}]
    batched = train_groups(problem, "vanilla", [Group(hp, [3, 4], SeedListener()) for hp in hps], train, val,
                           keep_models=True)
    for hp, runs in zip(hps, batched):
        alone = train_seeds(problem, "vanilla", hp, [3, 4], train, val, keep_models=True, fuse=False)
        assert [r.towers for r in runs] == [4, 4]
        for b, a in zip(runs, alone):
            for wb, wa in zip(b.model.get_weights(), a.model.get_weights()):
                np.testing.assert_allclose(wb, wa, atol=3e-5)
            np.testing.assert_allclose(b.history["val_loss"], a.history["val_loss"], rtol=1e-4)
    assert batched[0][0].score != batched[1][0].score
    constant = train_seeds(problem, "vanilla", {**hps[1], "lr_schedule": "constant"}, [3], train, val,
                           keep_models=True, fuse=False)[0]
    assert not np.allclose(constant.model.get_weights()[0], batched[1][0].model.get_weights()[0], atol=1e-4)


def test_a_cosine_schedule_decays_the_rate_over_the_epochs():
    hp = resolve({"learning_rate": 0.01, "epochs": 4, "lr_schedule": "cosine"})
    assert [learning_rate_at(hp, e) for e in range(4)] == pytest.approx([0.01, 0.00853553, 0.005, 0.00146447], rel=1e-5)
    assert learning_rate_at({**hp, "lr_schedule": "constant"}, 3) == 0.01


def test_each_tower_drops_out_at_its_own_rate():
    layer = TowerLSTM(3, 4, dropout=[0.0, 0.5, 0.2])
    mask = np.asarray(layer._mask(np.ones((3, 20000, 4), "float32"), layer.dropout))
    assert np.all(mask[0] == 1.0)
    for s, rate in ((1, 0.5), (2, 0.2)):
        kept = mask[s] > 0
        assert abs(1 - kept.mean() - rate) < 0.01  # the share dropped is the tower's rate
        np.testing.assert_allclose(mask[s][kept], 1 / (1 - rate), rtol=1e-6)  # kept units are scaled up


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


def test_towers_left_after_a_rebuild_train_on_exactly_as_in_the_wider_model():
    """Adam's moments and step count carry over: two epochs in a model of 4 towers, or one epoch there and
    one in a model rebuilt for towers 0 and 2, end with the same weights for those towers."""
    problem, train, val = _data("echo")
    hp = {**references.reference_hp("echo"), "units": 6, "dropout": 0.0, "batch_size": 16, "optimizer": "adam"}
    rates = [0.01, 0.003, 0.001, 0.03]

    def trained(rebuild):
        keras.backend.clear_session()
        plains = []
        for seed in range(4):
            seed_everything(seed)
            plains.append(build_model("vanilla", problem, resolve(hp)))
        fused = LiveTowers(problem, plains, [resolve({**hp, "learning_rate": r}) for r in rates], train)
        index = np.stack([np.random.default_rng(s).permutation(len(train[0])) for s in range(4)], axis=1)
        fused.fit_epoch(train[0], train[1], index)
        if rebuild:
            fused.keep([0, 2])
            assert fused.live == [0, 2] and fused.towers.towers == 2
        losses = fused.fit_epoch(train[0], train[1], index[::-1])
        return {t: fused.snapshot(t) for t in (0, 2)}, {t: losses[t] for t in (0, 2)}, fused.predict(val[0])

    wide, narrow = trained(False), trained(True)
    assert wide[1] == pytest.approx(narrow[1], rel=1e-5)
    for t in (0, 2):
        for layer_wide, layer_narrow in zip(wide[0][t], narrow[0][t]):
            for w, n in zip(layer_wide, layer_narrow):
                np.testing.assert_allclose(n, w, atol=1e-6)
        np.testing.assert_allclose(narrow[2][t], wide[2][t], atol=1e-5)


def test_the_model_is_rebuilt_once_a_third_of_its_towers_have_stopped_with_epochs_to_go():
    assert not worth_rebuilding(0, 12, 10)
    assert not worth_rebuilding(3, 12, 10)  # a quarter
    assert worth_rebuilding(4, 12, 10) and worth_rebuilding(2, 6, 2)
    assert not worth_rebuilding(4, 12, 1)  # one epoch left: not worth a new trace


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


def test_the_memory_rule_counts_video_activations():
    """The CNN-LSTM with 8 filters at batch 64 on 50^3 videos: 6 towers peaked at 8.8 GB, so about 4 fit
    the 6 GB step budget; LSTM-only models are never limited in practice."""
    from pipeline.training.towers.live import towers_that_fit
    video = get_problem("moving_square")
    hp = resolve({**references.reference_hp("moving_square"), "filters": 8, "batch_size": 64})
    assert towers_that_fit(build_model("cnn_lstm", video, hp), 64) == 4
    hp = resolve(references.reference_hp("addition"))
    assert towers_that_fit(build_model("encoder_decoder", get_problem("addition"), hp), hp["batch_size"]) > 1000
