"""Diagnostics on planted curves: absolute amounts decide (a loss near zero that still falls by a few percent
is not underfitting); overfit is a validation loss that rises while the training loss falls. Real training
runs (a tiny model, a large one trained far past its best epoch, the reference) are in
tests/integration/test_diagnostics.py."""
import math

import numpy as np
import pytest

from reports.diagnostics import GOOD, OVERFIT, UNDERFIT, UNKNOWN, Scale, constant_loss, overall_verdict, seed_verdict

ADDITION = Scale("accuracy", "maximize", 0.005, 1.6)  # margin 0.005 accuracy; a constant prediction's loss 1.6


def winner_like(seed: int = 0) -> dict[str, list[float]]:
    """The addition winner's curves: validation loss flat near 0.002, down 6% over the last 3 epochs,
    validation accuracy 0.9989."""
    rng = np.random.default_rng(seed)
    val = [0.9, 0.2, 0.03, 0.008, 0.004, 0.0030, 0.00245, 0.00225, 0.00213, 0.00207, 0.00204, 0.00200]
    return {"loss": [1.2, 0.35, 0.05, 0.012, 0.005, 0.003, 0.0022, 0.0019, 0.0017, 0.0016, 0.00155, 0.0015],
            "val_loss": val,
            "val_accuracy": list(np.minimum(1.0, [0.7, 0.93, 0.99, 0.997, 0.998, 0.9985, 0.9987, 0.9988, 0.9988,
                                                  0.9989, 0.9989, 0.9989] + rng.normal(0, 1e-5, 12)))}


def test_the_addition_winner_is_not_called_underfit():
    history = winner_like()
    val = history["val_loss"]
    assert (val[-4] - val[-1]) / val[-4] == pytest.approx(0.061, abs=0.005)  # the 6% the old rule fired on
    assert seed_verdict(history, ADDITION).label == GOOD
    no_metric = {k: v for k, v in history.items() if k != "val_accuracy"}  # judged on the loss alone
    assert seed_verdict(no_metric, ADDITION).label == GOOD
    assert seed_verdict(history).label == GOOD  # no scale at all: 6% is still below the 10% a loss must fall
    verdict, counts = overall_verdict([winner_like(s) for s in range(10)], ADDITION)
    assert verdict.label == GOOD and counts == {GOOD: 10}


def test_a_high_training_loss_is_underfit_even_after_one_epoch():
    verdict = seed_verdict({"loss": [1.4], "val_loss": [1.38], "val_accuracy": [0.3]}, ADDITION)
    assert verdict.label == UNDERFIT and "training loss 1.4 is high" in verdict.reason
    assert seed_verdict({"loss": [0.1], "val_loss": [0.1]}, ADDITION).label == UNKNOWN  # low, but too short to say


def test_a_validation_metric_still_improving_by_more_than_the_margin_is_underfit():
    history = {"loss": [0.6, 0.4, 0.3, 0.25, 0.2], "val_loss": [0.6, 0.45, 0.35, 0.3, 0.26],
               "val_accuracy": [0.80, 0.86, 0.90, 0.93, 0.95]}
    verdict = seed_verdict(history, ADDITION)
    assert verdict.label == UNDERFIT and "still improving" in verdict.reason
    settled = {**history, "val_accuracy": [0.80, 0.947, 0.948, 0.949, 0.950]}  # +0.003 over 3 epochs < margin
    assert seed_verdict(settled, ADDITION).label == GOOD
    minimising = Scale("mae", "minimize", 0.002, 0.5)
    assert seed_verdict({"loss": [0.2, 0.1, 0.08, 0.07, 0.06], "val_loss": [0.2, 0.1, 0.08, 0.07, 0.06],
                         "val_mae": [0.2, 0.1, 0.08, 0.07, 0.06]}, minimising).label == UNDERFIT


def test_overfit_is_a_validation_loss_rising_while_the_training_loss_falls():
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02]
    val = [1.0, 0.7, 0.55, 0.5, 0.56, 0.65, 0.8, 0.95]
    verdict = seed_verdict({"loss": train, "val_loss": val}, ADDITION)
    assert verdict.label == OVERFIT and "minimum at epoch 4" in verdict.reason
    diverging = [1.0, 0.6, 0.4, 0.3, 0.45, 0.6, 0.8, 1.0]  # both rise: not overfitting
    assert seed_verdict({"loss": diverging, "val_loss": val}, ADDITION).label != OVERFIT
    tiny_rise = [0.002, 0.0015, 0.0012, 0.0011, 0.00125, 0.0013, 0.00135, 0.0014]  # +27%, but 0.0003: nothing
    assert seed_verdict({"loss": [x / 2 for x in tiny_rise[:4]] + [0.0004, 0.0003, 0.0002, 0.0001],
                         "val_loss": tiny_rise}, ADDITION).label == GOOD


def test_constant_loss_is_what_a_constant_prediction_scores():
    eye = np.eye(4)
    uniform = np.stack([eye[[0, 1, 2, 3]], eye[[3, 2, 1, 0]]] * 5)  # 10 sequences of 4 steps, 4 classes
    assert constant_loss("categorical_crossentropy", uniform) == pytest.approx(math.log(2))  # 2 classes per step
    assert constant_loss("binary_crossentropy", np.array([[0.0], [1.0]])) == pytest.approx(math.log(2))
    y = np.array([[1.0], [2.0], [3.0], [6.0]])
    assert constant_loss("mse", y) == pytest.approx(np.var(y))
    assert constant_loss("mae", y) == pytest.approx(np.mean(np.abs(y - 2.5)))
    assert constant_loss("huber", y) is None
