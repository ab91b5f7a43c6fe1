"""Diagnostics on real training curves of the addition problem (encoder-decoder), small and seeded: a tiny
model stopped after one epoch, a large model trained far past its best epoch, and the book's reference at
20 epochs on the tiny data (where the curves show it has not learned past the class frequencies yet)."""
import pytest

from conftest import TINY
from pipeline.problems import get_problem
from pipeline.training.one_seed import train_one
from reports.diagnostics import HIGH, OVERFIT, UNDERFIT, Scale, constant_loss, seed_verdict
from search_spaces import references
from search_spaces.loader import load_space


@pytest.fixture(scope="module")
def addition():
    problem = get_problem("addition")
    reference = references.reference_config("addition", load_space("encoder_decoder", "addition"))

    def train(n_train: int, **hp):
        splits = problem.splits(seed=0, n_train=n_train, n_val=64, n_test=8)
        run = train_one(problem, "encoder_decoder", {**reference, **hp}, 0, (splits.x_train, splits.y_train),
                        (splits.x_val, splits.y_val))
        return run.history, Scale(problem.metric, problem.direction, problem.margin,
                                  constant_loss(problem.loss, splits.y_train))
    return train


def test_a_tiny_model_stopped_after_one_epoch_is_underfit(addition):
    history, scale = addition(TINY["addition"]["n_train"], units=4, decoder_units=4, epochs=1, patience=0)
    verdict = seed_verdict(history, scale)
    assert verdict.label == UNDERFIT and "is high" in verdict.reason


def test_a_large_model_trained_far_past_its_best_epoch_is_overfit(addition):
    history, scale = addition(64, units=128, decoder_units=128, epochs=40, patience=0, batch_size=16,
                              learning_rate=0.01)
    val = history["val_loss"]
    assert val.index(min(val)) < len(val) - 10  # its best epoch lies far behind it
    verdict = seed_verdict(history, scale)
    assert verdict.label == OVERFIT and "while the training loss fell" in verdict.reason


def test_the_reference_at_20_epochs_is_judged_as_its_curves_say(addition):
    history, scale = addition(TINY["addition"]["n_train"], epochs=20, patience=0)
    assert history["loss"][-1] > HIGH * scale.constant_loss  # 64 sequences, 20 epochs: near the class frequencies
    verdict = seed_verdict(history, scale)
    assert verdict.label == UNDERFIT and "is high" in verdict.reason
