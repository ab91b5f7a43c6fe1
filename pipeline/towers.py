"""Seed towers: S independent copies of a chain model computed as one model.

Every weight gains a leading seed axis, so one batched matmul per time step computes the gates
of all S LSTMs at once. Input and output gain a tower axis after the batch axis:
(batch, S, ...). Tower s holds exactly the weights of a plain model (`export` / `load` move them
both ways), so a fused model is S genuine independent runs, not an ensemble.

`fuse` walks the layers of a model built by `pipeline.architectures` and maps each to its
tower form; models that are not a chain of supported layers raise `Unfusable`.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops


class Unfusable(Exception):
    """The model cannot be turned into seed towers (the caller trains seeds one by one)."""


class TowerLSTM(layers.Layer):
    """S LSTMs with the Keras LSTM gate layout (i, f, c, o) and semantics, weights (S, ...)."""

    def __init__(self, towers: int, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid",
                 return_sequences: bool = False, go_backwards: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, kernel_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.towers, self.units = towers, units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.return_sequences, self.go_backwards = return_sequences, go_backwards
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed_generator = keras.random.SeedGenerator()

    def build(self, input_shape: tuple) -> None:
        s, u, features = self.towers, self.units, input_shape[-1]
        self.kernel = self.add_weight(shape=(s, features, 4 * u), name="kernel", initializer="zeros",
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight(shape=(s, u, 4 * u), name="recurrent_kernel", initializer="zeros")
        self.bias = self.add_weight(shape=(s, 4 * u), name="bias", initializer="zeros")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, towers, steps = input_shape[:3]
        return (batch, towers, steps, self.units) if self.return_sequences else (batch, towers, self.units)

    def _mask(self, like, rate: float):
        return keras.random.dropout(ops.ones_like(like), rate, seed=self.seed_generator)

    def _step(self, x_t, h, c):
        z = x_t + ops.matmul(h, self.recurrent_kernel)  # (S, B, 4u): all towers in one batched matmul
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
        return self.recurrent_activation(o) * self.activation(c), c

    def regularization(self, *towers: int) -> float:
        """The regularization loss of these towers' kernels."""
        if self.kernel_regularizer is None:
            return 0.0
        return sum(float(self.kernel_regularizer(self.kernel[s])) for s in towers)

    def call(self, x, training: bool | None = None):
        x = ops.transpose(x, (2, 1, 0, 3))  # (T, S, B, F): time first, towers as the matmul batch
        if self.go_backwards:
            x = ops.flip(x, axis=0)
        if training and self.dropout > 0:
            x = x * self._mask(x[0], self.dropout)[None]  # one mask for all steps, as Keras does
        xs = ops.einsum("tsbf,sfg->tsbg", x, self.kernel) + self.bias[None, :, None, :]
        h = ops.zeros((self.towers, ops.shape(x)[2], self.units), dtype=xs.dtype)
        c = h
        r_mask = self._mask(h, self.recurrent_dropout) if training and self.recurrent_dropout > 0 else None

        def step(carry, x_t):
            h, c = carry
            return self._step(x_t, h if r_mask is None else h * r_mask, c)
        # A symbolic loop rather than an unrolled graph: it traces faster and, measured on the reference
        # models, trains as fast (echo, addition) or faster (cumulative_sum's return_sequences).
        sequence = tf.scan(step, xs, initializer=(h, c))[0]  # every step's h: (T, S, B, u)
        h = sequence[-1]
        if self.return_sequences:
            return ops.transpose(sequence, (2, 1, 0, 3))  # (B, S, T, u), in processing order like Keras
        return ops.transpose(h, (1, 0, 2))  # (B, S, u)


class TowerBidirectional(layers.Layer):
    """keras.layers.Bidirectional over TowerLSTMs: both directions of all S towers run as one
    TowerLSTM of 2S towers (the reversed input stacked after the forward one), so one batched matmul
    per step serves both. Weights read and write in the Keras layout: forward's, then backward's."""

    def __init__(self, lstm: TowerLSTM, merge_mode: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lstm, self.merge_mode, self.towers = lstm, merge_mode, lstm.towers // 2

    def call(self, x, training: bool | None = None):
        both = self.lstm(ops.concatenate([x, ops.flip(x, axis=2)], axis=1), training=training)
        y, y_back = both[:, :self.towers], both[:, self.towers:]
        if self.lstm.return_sequences:
            y_back = ops.flip(y_back, axis=2)
        if self.merge_mode == "concat":
            return ops.concatenate([y, y_back], axis=-1)
        if self.merge_mode == "sum":
            return y + y_back
        if self.merge_mode == "mul":
            return y * y_back
        return (y + y_back) / 2

    def get_weights(self) -> list[np.ndarray]:
        weights = self.lstm.get_weights()
        return [w[:self.towers] for w in weights] + [w[self.towers:] for w in weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        half = len(weights) // 2
        self.lstm.set_weights([np.concatenate([f, b]) for f, b in zip(weights[:half], weights[half:])])

    def regularization(self, s: int) -> float:
        """Tower s's regularization loss: both its directions."""
        return self.lstm.regularization(s, s + self.towers)


class TowerDense(layers.Layer):
    """S Dense layers on (B, S, F) or (B, S, T, F) inputs (the latter as TimeDistributed)."""

    def __init__(self, towers: int, units: int, activation: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.towers, self.units, self.activation = towers, units, keras.activations.get(activation)

    def build(self, input_shape: tuple) -> None:
        self.kernel = self.add_weight(shape=(self.towers, input_shape[-1], self.units), name="kernel",
                                      initializer="zeros")
        self.bias = self.add_weight(shape=(self.towers, self.units), name="bias", initializer="zeros")

    def call(self, x):
        if len(x.shape) == 3:
            return self.activation(ops.einsum("bsf,sfu->bsu", x, self.kernel) + self.bias[None])
        return self.activation(ops.einsum("bstf,sfu->bstu", x, self.kernel) + self.bias[None, :, None, :])


class TowerRepeat(layers.Layer):
    """RepeatVector per tower: (B, S, F) -> (B, S, n, F)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = n

    def call(self, x):
        return ops.repeat(ops.expand_dims(x, 2), self.n, axis=2)


def _lstm(layer: layers.LSTM, towers: int, **overrides: Any) -> TowerLSTM:
    cfg = layer.get_config()
    if cfg.get("return_state") or cfg.get("stateful") or not cfg.get("use_bias", True):
        raise Unfusable("LSTM layers returning states, stateful or without bias cannot be fused")
    args = dict(units=cfg["units"], activation=cfg["activation"], recurrent_activation=cfg["recurrent_activation"],
                return_sequences=cfg["return_sequences"], go_backwards=cfg["go_backwards"],
                dropout=cfg["dropout"], recurrent_dropout=cfg["recurrent_dropout"],
                kernel_regularizer=layer.kernel_regularizer)
    return TowerLSTM(towers, **{**args, **overrides}, name=f"{layer.name}_towers")


def _dense(layer: layers.Dense, towers: int, name: str) -> TowerDense:
    if layer.kernel_regularizer is not None or not layer.use_bias:
        raise Unfusable("Dense layers with a regularizer or without bias cannot be fused")
    return TowerDense(towers, layer.units, layer.activation, name=name)


def tower_layer(layer: layers.Layer, towers: int) -> layers.Layer:
    """The tower form of one layer of a plain model."""
    name = f"{layer.name}_towers"
    if isinstance(layer, (layers.Rescaling, layers.Activation, layers.Dropout)):
        return type(layer).from_config({**layer.get_config(), "name": name})  # elementwise: shared as is
    if isinstance(layer, layers.Reshape):
        return layers.Reshape((towers, *layer.target_shape), name=name)
    if isinstance(layer, layers.LSTM):
        return _lstm(layer, towers)
    if isinstance(layer, layers.Bidirectional) and isinstance(layer.forward_layer, layers.LSTM):
        def same(cfg: dict) -> dict:
            return {k: v for k, v in cfg.items() if k not in ("name", "go_backwards", "seed")}
        if layer.forward_layer.go_backwards or \
                same(layer.forward_layer.get_config()) != same(layer.backward_layer.get_config()):
            raise Unfusable("Bidirectional layers with different forward and backward LSTMs cannot be fused")
        return TowerBidirectional(_lstm(layer.forward_layer, 2 * towers, go_backwards=False), layer.merge_mode,
                                  name=name)
    if isinstance(layer, layers.RepeatVector):
        return TowerRepeat(layer.n, name=name)
    if isinstance(layer, layers.Dense):
        return _dense(layer, towers, name)
    if isinstance(layer, layers.TimeDistributed) and isinstance(layer.layer, layers.Dense):
        return _dense(layer.layer, towers, name)
    raise Unfusable(f"{type(layer).__name__} layers cannot be fused")


class Towers:
    """A fused model of S towers built from a plain chain model, with weight transfer both ways."""

    def __init__(self, plain: keras.Model, towers: int) -> None:
        if len(plain.inputs) != 1 or len(plain.outputs) != 1:
            raise Unfusable("models with several inputs or outputs cannot be fused")
        self.towers = towers
        inputs = keras.Input(shape=(towers, *plain.inputs[0].shape[1:]), dtype=plain.inputs[0].dtype, name="x")
        x, previous = inputs, plain.inputs[0]
        self.pairs: list[tuple[int, layers.Layer]] = []  # (index in plain.layers, tower layer)
        for index, layer in enumerate(plain.layers):
            if isinstance(layer, layers.InputLayer):
                continue
            if len(layer._inbound_nodes) != 1 or layer.input is not previous:
                raise Unfusable(f"{plain.name} is not a chain of layers")
            tower = tower_layer(layer, towers)
            x, previous = tower(x), layer.output
            self.pairs.append((index, tower))
        if previous is not plain.outputs[0]:
            raise Unfusable(f"{plain.name} is not a chain of layers")
        self.model = keras.Model(inputs, x, name=f"{plain.name}_x{towers}")

    def load(self, plains: list[keras.Model]) -> None:
        """Set tower s to the weights of plains[s] (models of the same configuration)."""
        for index, tower in self.pairs:
            per_model = [p.layers[index].get_weights() for p in plains]
            tower.set_weights([np.stack(ws) for ws in zip(*per_model)])

    def snapshot(self, s: int) -> list[list[np.ndarray]]:
        """Tower s's weights, per tower layer, in the plain model's layout."""
        return [[w[s].copy() for w in tower.get_weights()] for _, tower in self.pairs]

    def restore(self, snapshots: list[list[list[np.ndarray]]]) -> None:
        """Set every tower s to snapshots[s] (a snapshot(s) per tower)."""
        for k, (_, tower) in enumerate(self.pairs):
            tower.set_weights([np.stack([snap[k][i] for snap in snapshots]) for i in range(len(snapshots[0][k]))])

    def export(self, s: int, plain: keras.Model) -> keras.Model:
        """Copy tower s's weights into `plain` (a model of the same configuration); return it."""
        for (index, _), weights in zip(self.pairs, self.snapshot(s)):
            plain.layers[index].set_weights(weights)
        return plain

    def regularization(self, s: int) -> float:
        """Tower s's share of the regularization loss (Keras adds it to the loss it reports)."""
        return sum(tower.regularization(s) for _, tower in self.pairs
                   if isinstance(tower, (TowerLSTM, TowerBidirectional)))
