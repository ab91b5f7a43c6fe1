"""Fused seed towers: exact weight transfer, per-tower histories, scores and early stopping."""
import keras
import numpy as np
import pytest
from keras import layers

from conftest import TINY
from search_spaces import references
from pipeline.architectures import build_model
from pipeline.training.towers.fused import Group, fusable, train_groups
from pipeline.problems import get_problem
from pipeline.training.seeding import seed_everything
from pipeline.training.listeners import SeedListener
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.training.towers.model import Towers, Unfusable


def _data(name):
    sizes = {k: v for k, v in TINY[name].items() if k.startswith("n_")}
    problem = get_problem(name, **{k: v for k, v in TINY[name].items() if not k.startswith("n_")})
    return problem, problem.splits(seed=0, **sizes)


@pytest.mark.parametrize("name,arch,hp", [
    ("echo", "vanilla", {}),
    ("echo", "vanilla", {"activation": "relu"}),  # not tanh: the symbolic loop, not pipeline.training.towers.lstm_recurrence
    ("cumulative_sum", "bidirectional", {"layers": 2, "merge_mode": "ave", "l2": 0.01}),
    ("addition", "encoder_decoder", {"layers": 2, "decoder_units": 7}),
    ("damped_sine", "stacked", {"l2": 0.01, "dropout": 0.2}),
    ("addition", "attention", {"layers": 2, "l2": 0.01, "dropout": 0.2}),  # a DAG: states, initial_state, attention
    ("recall", "attention", {}),
    ("moving_square", "cnn_lstm", {"filters": 3, "kernel_size": 3}),  # frames: grouped convolution, pooling
])
def test_each_tower_computes_exactly_its_plain_model(name, arch, hp):
    problem, splits = _data(name)
    hp = {**references.reference_hp(name), **hp, "units": 6}
    plains = []
    for seed in range(3):
        seed_everything(seed)
        plains.append(build_model(arch, problem, hp))
    towers = Towers(plains)
    fused = towers.model.predict(np.repeat(splits.x_test[:, None], 3, axis=1), verbose=0)
    for s, plain in enumerate(plains):
        np.testing.assert_allclose(fused[:, s], plain.predict(splits.x_test, verbose=0), atol=1e-5)
    assert not np.allclose(fused[:, 0], fused[:, 1])  # different seeds, different models
    if hp.get("l2"):
        expected = sum(float(loss) for loss in plains[1].losses)
        assert towers.regularization(1) == pytest.approx(expected, rel=1e-5)


def test_attention_is_fused_not_trained_one_by_one():
    for name in ("addition", "recall"):
        assert fusable(get_problem(name), "attention")
    problem, splits = _data("recall")
    runs = train_seeds(problem, "attention", {"units": 4, "epochs": 1}, [0, 1, 2], (splits.x_train, splits.y_train),
                       (splits.x_val, splits.y_val))
    assert [r.towers for r in runs] == [3, 3, 3]


def _graph(make):
    """A plain model on (8, 3) inputs whose body `make` builds from the input tensor."""
    inputs = keras.Input((8, 3))
    return keras.Model(inputs, make(inputs))


def _shared(x):
    dense = layers.Dense(3)
    return dense(dense(x))


@pytest.mark.parametrize("make,reason", [
    (_shared, "more than once"),
    (lambda x: layers.Attention(use_scale=True)([x, x]), "Attention"),
    (lambda x: layers.Attention()([x, x], use_causal_mask=True), "use_causal_mask"),
    (lambda x: layers.LSTM(2)(x, mask=keras.ops.greater(x[..., 0], 0)), "mask"),
    (lambda x: layers.Dense(2)(keras.ops.tanh(x)), "not a layer"),
    (lambda x: layers.Bidirectional(layers.LSTM(2, return_state=True))(x)[0], "returning states"),
    (lambda x: layers.Add()([x, x]), "Add"),
    (lambda x: layers.Dropout(0.5)(x, training=True), "training=True"),
])
def test_unsupported_graphs_are_not_fused(make, reason):
    with pytest.raises(Unfusable, match=reason):
        Towers([_graph(make)] * 2)


def test_unfusable_models_are_trained_one_by_one():
    problem, splits = _data("shape_generation")  # scored by generating: its own evaluate
    assert not fusable(problem, "generative")
    runs = train_seeds(problem, "generative", {"units": 2, "epochs": 1}, [0, 1], (splits.x_train, splits.y_train),
                       (splits.x_val, splits.y_val))
    assert [r.towers for r in runs] == [1, 1]  # trained one by one instead


def test_fused_towers_early_stop_on_their_own_and_keep_their_best_weights():
    problem, splits = _data("echo")
    hp = {"units": 8, "batch_size": 16, "epochs": 12, "patience": 1, "learning_rate": 0.03}
    runs = train_seeds(problem, "vanilla", hp, [0, 1, 2], (splits.x_train, splits.y_train),
                       (splits.x_val, splits.y_val), options=TrainOptions(keep_models=True))
    assert [r.seed for r in runs] == [0, 1, 2] and all(r.towers == 3 for r in runs)
    assert len({r.epochs for r in runs}) > 1, "these seeds stop at different epochs"
    for run in runs:
        curves = run.history
        assert len(curves["loss"]) == len(curves["val_loss"]) == len(curves["val_accuracy"]) == run.epochs
        best = int(np.argmin(curves["val_loss"]))
        assert run.best_epoch == best + 1
        if run.epochs < hp["epochs"]:  # stopped: patience epochs without a new best
            assert run.epochs - 1 - best == hp["patience"]
        # the kept model is the tower's best epoch, and scores what the run reports
        assert run.score == curves["val_accuracy"][best]
        assert problem.evaluate(run.model, splits.x_val, splits.y_val)["accuracy"] == pytest.approx(run.score)


def test_fused_training_is_deterministic_and_matches_sequential_in_kind():
    problem, splits = _data("cumulative_sum")
    hp = {"units": 6, "epochs": 2, "patience": 0}
    data = ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val))
    first = train_seeds(problem, "bidirectional", hp, [5, 6], *data)
    again = train_seeds(problem, "bidirectional", hp, [5, 6], *data)
    sequential = train_seeds(problem, "bidirectional", hp, [5, 6], *data, options=TrainOptions(fuse=False))
    assert [r.towers for r in first] == [2, 2], "the first run trained as fused towers (no silent fallback)"
    assert [r.score for r in first] == [r.score for r in again]
    assert [r.history["loss"] for r in first] == [r.history["loss"] for r in again]
    assert [r.towers for r in sequential] == [1, 1]
    assert all(set(f.history) == set(s.history) and f.n_params == s.n_params for f, s in zip(first, sequential))


@pytest.mark.parametrize("name,arch", [("echo", "vanilla"), ("addition", "encoder_decoder"), ("addition", "attention"),
                                       ("moving_square", "cnn_lstm")])
def test_fused_towers_learn_the_same_weights_as_sequential_runs(name, arch):
    """Dropout 0 and one full batch per epoch (so the batch order cannot differ): after a few epochs each
    tower's weights equal its seed's sequential run, to float tolerance; not only the starting outputs."""
    problem, splits = _data(name)
    hp = {**references.reference_hp(name), "units": 6, "dropout": 0.0, "epochs": 3, "patience": 0,
          "batch_size": len(splits.x_train), "optimizer": "sgd", "learning_rate": 0.5}  # SGD: scale-sensitive
    data = ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val))
    fused = train_seeds(problem, arch, hp, [3, 4], *data, options=TrainOptions(keep_models=True))
    sequential = train_seeds(problem, arch, hp, [3, 4], *data, options=TrainOptions(keep_models=True, fuse=False))
    assert [r.towers for r in fused] == [2, 2] and [r.towers for r in sequential] == [1, 1]
    for f, s in zip(fused, sequential):
        seed_everything(f.seed)
        start = build_model(arch, problem, hp).get_weights()  # where the seed's run started
        moved = max(float(np.max(np.abs(a - b))) for a, b in zip(s.model.get_weights(), start))
        assert moved > 1e-3  # training changed the weights: the comparison below is not of initial weights
        for a, b in zip(f.model.get_weights(), s.model.get_weights()):
            np.testing.assert_allclose(a, b, atol=2e-5)
        np.testing.assert_allclose(f.history["loss"], s.history["loss"], rtol=1e-4)


def test_attention_towers_of_different_configurations_learn_what_each_seed_learns_alone():
    """Three towers of attention (two stacked encoders, states into the decoder): two configurations that
    differ in learning rate, L2 and initializer, Adam, one full batch per epoch; each tower ends with the
    weights, losses and scores of its seed trained alone."""
    problem, splits = _data("recall")
    train, val = (splits.x_train, splits.y_train), (splits.x_val, splits.y_val)
    base = {"units": 5, "layers": 2, "epochs": 3, "patience": 0, "batch_size": len(splits.x_train),
            "optimizer": "adam", "learning_rate": 0.01}
    hps = [base, {**base, "learning_rate": 0.003, "l2": 0.01, "kernel_initializer": "glorot_normal"}]
    batched = train_groups(problem, "attention", [Group(hps[0], [3, 4], SeedListener()),
                                                  Group(hps[1], [5], SeedListener())], train, val, keep_models=True)
    for hp, runs, seeds in zip(hps, batched, ([3, 4], [5])):
        alone = train_seeds(problem, "attention", hp, seeds, train, val,
                            options=TrainOptions(keep_models=True, fuse=False))
        assert [r.towers for r in runs] == [3] * len(seeds) and [r.towers for r in alone] == [1] * len(seeds)
        for b, a in zip(runs, alone):
            for wb, wa in zip(b.model.get_weights(), a.model.get_weights()):
                np.testing.assert_allclose(wb, wa, atol=3e-5)
            np.testing.assert_allclose(b.history["val_loss"], a.history["val_loss"], rtol=1e-4)
            assert b.score == pytest.approx(a.score, abs=1e-6)


def test_validation_videos_predicted_a_few_at_a_time_score_as_all_at_once(monkeypatch):
    """Training gathers each batch's samples for every tower as it goes (never an epoch of videos x towers),
    and validation is predicted PREDICT_BATCH samples at a time: with 2 at a time the towers train to the same
    weights and score the same (up to float rounding: smaller batches)."""
    from pipeline.training.towers import live as live_towers
    problem, splits = _data("moving_square")
    hp = {"units": 4, "epochs": 2, "patience": 0, "batch_size": 5}
    data = ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val))
    at_once = train_seeds(problem, "cnn_lstm", hp, [1, 2], *data, options=TrainOptions(keep_models=True))
    monkeypatch.setattr(live_towers, "PREDICT_BATCH", 2)
    by_two = train_seeds(problem, "cnn_lstm", hp, [1, 2], *data, options=TrainOptions(keep_models=True))
    assert [r.towers for r in by_two] == [2, 2]
    for a, b in zip(at_once, by_two):
        assert a.history["loss"] == b.history["loss"]
        np.testing.assert_allclose(a.history["val_loss"], b.history["val_loss"], rtol=1e-6)
        for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
            np.testing.assert_array_equal(wa, wb)
