"""Which hyperparameters may differ between the towers of one fused model, and how they do.

A fused model (pipeline.training.towers.model) shares its structure and its training loop: layers, units, batch
size, optimizer class, epochs and patience are one for all towers. What acts per weight may differ
exactly, tower by tower: the learning rate (each tower's update scaled by its own rate), input and
recurrent dropout (each tower's own mask rate), L1/L2 (each tower's own penalty) and the kernel
initializer (each tower starts from its own plain model). Configurations that agree on everything
else can therefore train as one model: `structure` is what they must agree on.
"""
from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

PER_TOWER = ("learning_rate", "lr_schedule", "dropout", "recurrent_dropout", "l1", "l2", "kernel_initializer")


def structure(hp: dict[str, Any]) -> dict[str, Any]:
    """The part of a configuration that towers of one fused model share."""
    return {k: v for k, v in hp.items() if k not in PER_TOWER}


def per_tower(values: Sequence[float] | float, towers: int) -> np.ndarray:
    """`values` as one float per tower (a single value is repeated)."""
    arr = np.asarray(values, dtype="float32").reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, towers)
    if arr.size != towers:
        raise ValueError(f"{arr.size} values for {towers} towers")
    return arr


def along_towers(values, shape: tuple, dtype: Any):
    """values (S,) as a tensor that broadcasts over a tower-first tensor of `shape` with S or k*S towers."""
    copies = shape[0] // values.shape[0]
    return ops.reshape(ops.tile(ops.cast(values, dtype), (copies,)), (-1,) + (1,) * (len(shape) - 1))


class TowerL1L2(keras.regularizers.Regularizer):
    """L1/L2 on a tower-first kernel (S, ...): tower s pays l1[s] * sum|w_s| + l2[s] * sum w_s**2, as
    keras.regularizers.L1L2 would on its own model."""

    def __init__(self, l1: np.ndarray, l2: np.ndarray) -> None:
        self.l1, self.l2 = np.asarray(l1, "float32"), np.asarray(l2, "float32")

    @property
    def active(self) -> bool:
        return bool(self.l1.any() or self.l2.any())

    def __call__(self, x):
        l1, l2 = along_towers(self.l1, x.shape, x.dtype), along_towers(self.l2, x.shape, x.dtype)
        return ops.sum(l1 * ops.abs(x)) + ops.sum(l2 * ops.square(x))

    def tower(self, s: int, weights: np.ndarray) -> float:
        """Tower s's penalty on its own kernel `weights`."""
        return float(self.l1[s] * np.abs(weights).sum() + self.l2[s] * np.square(weights).sum())

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1.tolist(), "l2": self.l2.tolist()}


class TowerRates:
    """Per-tower learning rates of an optimizer whose own rate is 1: every update of a tower-first
    variable is scaled by its tower's rate (exact for Adam, RMSprop, Adagrad and SGD, whose updates are
    proportional to the rate, so a schedule is exact too). A rate of 0 freezes a tower: it stops updating."""

    def __init__(self, optimizer: keras.optimizers.Optimizer, rates: Sequence[float]) -> None:
        self.rates = keras.Variable(per_tower(rates, len(rates)), trainable=False, name="tower_rates")
        update = optimizer.update_step

        def update_step(gradient, variable, learning_rate):
            rate = along_towers(self.rates, variable.shape, variable.dtype)
            return update(gradient, variable, ops.cast(learning_rate, variable.dtype) * rate)
        optimizer.update_step = update_step
        optimizer.learning_rate = 1.0

    def assign(self, rates: Sequence[float]) -> None:
        """Set every tower's rate (0 freezes a tower: it stops updating)."""
        self.rates.assign(per_tower(rates, self.rates.shape[0]))
