"""The live towers: the model rebuilt without stopped towers, and the memory rule of how many fit."""
import keras
import numpy as np
import pytest

from search_spaces import references
from pipeline.architectures import build_model, resolve
from pipeline.training.towers.live import LiveTowers, worth_rebuilding
from pipeline.problems import get_problem
from pipeline.training.seeding import seed_everything
from tests_helpers import tiny_data


def test_towers_left_after_a_rebuild_train_on_exactly_as_in_the_wider_model():
    """Adam's moments and step count carry over: two epochs in a model of 4 towers, or one epoch there and
    one in a model rebuilt for towers 0 and 2, end with the same weights for those towers."""
    problem, train, val = tiny_data("echo")
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


def test_the_memory_rule_counts_video_activations():
    """The CNN-LSTM with 8 filters at batch 64 on 50^3 videos: 6 towers peaked at 8.8 GB, so about 4 fit
    the 6 GB step budget; LSTM-only models are never limited in practice."""
    from pipeline.training.towers.live import towers_that_fit
    video = get_problem("moving_square")
    hp = resolve({**references.reference_hp("moving_square"), "filters": 8, "batch_size": 64})
    assert towers_that_fit(build_model("cnn_lstm", video, hp), 64) == 4
    hp = resolve(references.reference_hp("addition"))
    assert towers_that_fit(build_model("encoder_decoder", get_problem("addition"), hp), hp["batch_size"]) > 1000
