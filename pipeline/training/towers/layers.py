"""The tower layers: S copies of a Keras layer with a leading tower axis on every weight, computed as
one layer (pipeline.training.towers.model maps a plain model's layers to these)."""
from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from pipeline.training.towers.lstm_recurrence import MAX_STEPS, cell, recurrence
from pipeline.training.towers.per_tower import TowerL1L2, along_towers, per_tower


class TowerLSTM(layers.Layer):
    """S LSTMs with the Keras LSTM gate layout (i, f, c, o) and semantics, weights (S, ...). Like
    keras.layers.LSTM it may start from initial_state=[h, c] and return [output, h, c] (return_state);
    states are (B, S, units)."""

    def __init__(self, towers: int, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid",
                 return_sequences: bool = False, go_backwards: bool = False, dropout: Sequence[float] = (0.0,),
                 recurrent_dropout: Sequence[float] = (0.0,), l1: Sequence[float] = (0.0,),
                 l2: Sequence[float] = (0.0,), return_state: bool = False, **kwargs: Any) -> None:
        """dropout, recurrent_dropout, l1, l2: one value per tower (or one for all)."""
        super().__init__(**kwargs)
        self.towers, self.units = towers, units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.return_sequences, self.go_backwards, self.return_state = return_sequences, go_backwards, return_state
        self.dropout, self.recurrent_dropout = per_tower(dropout, towers), per_tower(recurrent_dropout, towers)
        self.kernel_regularizer = TowerL1L2(per_tower(l1, towers), per_tower(l2, towers))
        self.seed_generator = keras.random.SeedGenerator()

    def build(self, input_shape: tuple) -> None:
        s, u, features = self.towers, self.units, input_shape[-1]
        self.kernel = self.add_weight(shape=(s, features, 4 * u), name="kernel", initializer="zeros",
                                      regularizer=self.kernel_regularizer if self.kernel_regularizer.active else None)
        self.recurrent_kernel = self.add_weight(shape=(s, u, 4 * u), name="recurrent_kernel", initializer="zeros")
        self.bias = self.add_weight(shape=(s, 4 * u), name="bias", initializer="zeros")

    def compute_output_shape(self, input_shape: tuple) -> tuple | list[tuple]:
        batch, towers, steps = input_shape[:3]
        state = (batch, towers, self.units)
        output = (batch, towers, steps, self.units) if self.return_sequences else state
        return [output, state, state] if self.return_state else output

    def _mask(self, like, rates: np.ndarray):
        """Inverted dropout with each tower's rate: like (S, ...), each kept unit scaled by 1 / (1 - rate)."""
        rate = along_towers(rates, like.shape, like.dtype)
        keep = ops.cast(keras.random.uniform(ops.shape(like), seed=self.seed_generator) >= rate, like.dtype)
        return keep / (1.0 - rate)

    def regularization(self, *towers: int) -> float:
        """The regularization loss of these towers' kernels."""
        kernel = self.kernel.numpy()
        return sum(self.kernel_regularizer.tower(s, kernel[s]) for s in towers)

    def call(self, x, initial_state=None, training: bool | None = None):
        x = ops.transpose(x, (1, 2, 0, 3))  # (S, T, B, F): towers as the matmul batch
        if self.go_backwards:
            x = ops.flip(x, axis=1)
        if training and self.dropout.any():
            x = x * self._mask(x[:, 0], self.dropout)[:, None]  # one mask for all steps, as Keras does
        s, steps, batch = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        xs = ops.reshape(ops.matmul(ops.reshape(x, (s, -1, x.shape[-1])), self.kernel) + self.bias[:, None],
                         (s, steps, batch, 4 * self.units))  # every step's input projection, in one matmul
        if initial_state is None:
            h = ops.zeros((self.towers, batch, self.units), dtype=xs.dtype)
            c = h
        else:  # [h, c], each (B, S, u)
            h, c = (ops.transpose(state, (1, 0, 2)) for state in initial_state)
        r_mask = self._mask(h, self.recurrent_dropout) if training and self.recurrent_dropout.any() else None

        if (self.activation is keras.activations.tanh and self.recurrent_activation is keras.activations.sigmoid
                and xs.shape[1] is not None and xs.shape[1] <= MAX_STEPS):  # its backward pass written out
            h, c = recurrence(xs, self.recurrent_kernel, h, c, r_mask, self.return_sequences, bool(training))
        else:
            def step(carry, x_t):
                h, c = carry
                return cell(x_t, h if r_mask is None else h * r_mask, c, self.recurrent_kernel, self.activation,
                            self.recurrent_activation)[:2]
            # Long sequences (or other activations): a symbolic loop, whose graph does not grow with the
            # sequence; TensorFlow derives its gradient.
            sequence, cells = tf.scan(step, ops.transpose(xs, (1, 0, 2, 3)), initializer=(h, c))  # (T, S, B, u)
            h, c = sequence if self.return_sequences else sequence[-1], cells[-1]
        # h: every step's h (T, S, B, u) with return_sequences, else the last one's (S, B, u); c: the last c
        last = h[-1] if self.return_sequences else h
        # (B, S, T, u) in processing order like Keras, or (B, S, u)
        output = ops.transpose(h, (2, 1, 0, 3)) if self.return_sequences else ops.transpose(h, (1, 0, 2))
        if not self.return_state:
            return output
        return [output, ops.transpose(last, (1, 0, 2)), ops.transpose(c, (1, 0, 2))]


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
        # towers first as the matmul batch: a batched matmul is much faster than the same einsum on CPUs
        rows = ops.reshape(ops.swapaxes(x, 0, 1), (self.towers, -1, x.shape[-1]))  # (S, B[*T], F)
        y = ops.matmul(rows, self.kernel) + self.bias[:, None]
        return self.activation(ops.swapaxes(ops.reshape(y, (self.towers, -1, *x.shape[2:-1], self.units)), 0, 1))


class TowerRepeat(layers.Layer):
    """RepeatVector per tower: (B, S, F) -> (B, S, n, F)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = n

    def call(self, x):
        return ops.repeat(ops.expand_dims(x, 2), self.n, axis=2)


class TowerConv2D(layers.Layer):
    """TimeDistributed(Conv2D) of S towers on (B, S, T, H, W, C): every frame of a tower in one convolution
    with its own kernel. Weights (S, kh, kw, C, F) and (S, F), each tower in the Keras Conv2D layout."""

    def __init__(self, towers: int, filters: int, kernel_size: Sequence[int], strides: Sequence[int],
                 padding: str, activation: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.towers, self.filters, self.activation = towers, filters, keras.activations.get(activation)
        self.kernel_size, self.strides, self.padding = tuple(kernel_size), tuple(strides), padding.upper()

    def build(self, input_shape: tuple) -> None:
        s, f = self.towers, self.filters
        self.kernel = self.add_weight(shape=(s, *self.kernel_size, input_shape[-1], f), name="kernel",
                                      initializer="zeros")
        self.bias = self.add_weight(shape=(s, f), name="bias", initializer="zeros")

    def call(self, x):
        steps, frame = x.shape[2], x.shape[3:]
        # One convolution per tower rather than one grouped convolution over all of them: TensorFlow has no
        # gradients for grouped convolutions on CPUs where it runs without oneDNN (e.g. some AMD ones).
        towers = [tf.nn.conv2d(ops.reshape(x[:, t], (-1, *frame)), self.kernel[t], self.strides, self.padding)
                  + self.bias[t] for t in range(self.towers)]
        return ops.stack([ops.reshape(self.activation(y), (-1, steps, *y.shape[1:])) for y in towers],
                         axis=1)  # (B, S, T, H', W', F)


class TowerFrames(layers.Layer):
    """TimeDistributed(layer) of S towers for a layer without weights (pooling, Flatten): it runs on every
    frame of every tower at once, (B, S, T, ...) -> (B, S, T, ...)."""

    def __init__(self, layer: layers.Layer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, x):
        towers, steps = x.shape[1:3]
        y = self.layer(ops.reshape(x, (-1, *x.shape[3:])))
        return ops.reshape(y, (-1, towers, steps, *y.shape[1:]))
