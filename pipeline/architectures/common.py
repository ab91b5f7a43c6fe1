"""Shared pieces of every architecture: hyperparameters, LSTM layers, the output head, compile."""
from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf
from keras import layers

from pipeline.errors import UsageError

# Every hyperparameter a builder or the trainer understands, with its default.
HP_DEFAULTS: dict[str, Any] = {
    "units": 32,  # memory cells per LSTM layer
    "layers": 1,  # LSTM layers (encoder layers for encoder-decoder / attention)
    "decoder_units": None,  # decoder cells (encoder_decoder); None = same as units
    "kernel_initializer": "glorot_uniform",
    "activation": "tanh",
    "dropout": 0.0,
    "recurrent_dropout": 0.0,
    "l1": 0.0,
    "l2": 0.0,
    "merge_mode": "concat",  # bidirectional
    "filters": 2,  # cnn_lstm
    "kernel_size": 2,  # cnn_lstm
    "pool_size": 2,  # cnn_lstm
    "optimizer": "adam",
    "learning_rate": 0.001,
    "lr_schedule": "constant",  # or cosine: the rate decays over the epochs (learning_rate_at)
    "momentum": 0.9,  # sgd
    "batch_size": 32,
    "epochs": 10,
    "patience": 3,  # early stopping on validation loss; 0 = off
}

CHOICES: dict[str, tuple[str, ...]] = {
    "kernel_initializer": ("glorot_uniform", "glorot_normal", "random_uniform", "random_normal",
                           "he_uniform", "he_normal", "orthogonal"),
    "activation": ("tanh", "sigmoid", "relu"),
    "merge_mode": ("concat", "sum", "mul", "ave"),
    "optimizer": ("adam", "rmsprop", "adagrad", "sgd"),
    "lr_schedule": ("constant", "cosine"),
}

# name -> (type, lowest allowed, highest allowed); None = unbounded.
RANGES: dict[str, tuple[type, float | None, float | None]] = {
    "units": (int, 1, 4096), "layers": (int, 1, 8), "decoder_units": (int, 1, 4096),
    "dropout": (float, 0.0, 0.95), "recurrent_dropout": (float, 0.0, 0.95),
    "l1": (float, 0.0, None), "l2": (float, 0.0, None),
    "filters": (int, 1, 512), "kernel_size": (int, 1, 16), "pool_size": (int, 1, 16),
    "learning_rate": (float, 1e-8, 10.0), "momentum": (float, 0.0, 1.0),
    "batch_size": (int, 1, 65536), "epochs": (int, 1, 100000), "patience": (int, 0, 100000),
}


def check_value(name: str, value: Any) -> Any:
    """Validate one hyperparameter value; return it normalised or raise a UsageError."""
    if name not in HP_DEFAULTS:
        raise UsageError(f"unknown hyperparameter '{name}'; allowed: {', '.join(HP_DEFAULTS)}")
    if name in CHOICES:
        if value not in CHOICES[name]:
            raise UsageError(f"hyperparameter {name}={value!r} is not allowed; choose one of: "
                             f"{', '.join(CHOICES[name])}")
        return value
    if value is None and HP_DEFAULTS[name] is None:
        return None
    kind, low, high = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise UsageError(f"hyperparameter {name}={value!r} must be a{'n integer' if kind is int else ' number'}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low}, {high if high is not None else 'inf'}]"
        raise UsageError(f"hyperparameter {name}={value!r} is out of range {bounds}")
    return kind(value)


def resolve(hp: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with hp, every value validated."""
    out = dict(HP_DEFAULTS)
    for name, value in hp.items():
        out[name] = check_value(name, value)
    return out


def model_input(problem) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's Input and the float tensor that follows it (integer inputs are cast)."""
    inputs = keras.Input(shape=problem.input_shape, dtype=problem.input_dtype, name="x")
    x = inputs if problem.input_dtype == "float32" else layers.Rescaling(1.0, name="to_float")(inputs)
    return inputs, x


def lstm(hp: dict[str, Any], return_sequences: bool, units: int | None = None, name: str | None = None,
         **kwargs: Any) -> layers.LSTM:
    """An LSTM layer configured from hp."""
    reg = keras.regularizers.L1L2(l1=hp["l1"], l2=hp["l2"]) if (hp["l1"] or hp["l2"]) else None
    return layers.LSTM(
        units or hp["units"], activation=hp["activation"], kernel_initializer=hp["kernel_initializer"],
        dropout=hp["dropout"], recurrent_dropout=hp["recurrent_dropout"], kernel_regularizer=reg,
        return_sequences=return_sequences, name=name, **kwargs)


def aligned(problem) -> bool:
    """Whether the output is one step per input step (e.g. cumulative sum)."""
    return problem.sequence_output and problem.output_shape[0] == problem.input_shape[0]


def head(problem, x: keras.KerasTensor) -> keras.KerasTensor:
    """The output layer: per step for a sequence tensor, reshaped Dense for a vector."""
    activation = problem.output_activation
    if len(x.shape) == 3:
        return layers.TimeDistributed(layers.Dense(problem.output_shape[-1], activation=activation), name="y")(x)
    if not problem.sequence_output:
        return layers.Dense(problem.output_shape[-1], activation=activation, name="y")(x)
    steps, features = problem.output_shape
    x = layers.Dense(steps * features)(x)
    x = layers.Reshape((steps, features))(x)
    return layers.Activation(activation, name="y")(x)


def learning_rate_at(hp: dict[str, Any], epoch: int) -> float:
    """The learning rate of epoch `epoch` (0-based): constant, or cosine decay from learning_rate at the
    first epoch towards 0 after the last (epochs from hp; early stopping may end the run sooner)."""
    if hp["lr_schedule"] == "constant":
        return hp["learning_rate"]
    return hp["learning_rate"] * 0.5 * (1.0 + math.cos(math.pi * epoch / hp["epochs"]))


def optimizer(hp: dict[str, Any]) -> keras.optimizers.Optimizer:
    """The optimizer named in hp with its learning rate."""
    name, lr = hp["optimizer"], hp["learning_rate"]
    if name == "sgd":
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=hp["momentum"])
    else:
        opt = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
               "adagrad": keras.optimizers.Adagrad}[name](learning_rate=lr)
    return _without_replica_sum(opt)


def _without_replica_sum(opt: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """Skip Keras's sum of gradients over replicas when there is one replica (the sum is the identity).

    Keras sums through a tf.custom_gradient, which registers a new global gradient function each time
    a training step is traced; that function holds the traced step, so every model trained in a
    process stayed alive and time per trial grew by half over a 100-trial study.
    """
    if not tf.distribute.has_strategy() and hasattr(opt, "_all_reduce_sum_gradients"):
        opt._all_reduce_sum_gradients = list
    return opt


def compile_model(model: keras.Model, problem, hp: dict[str, Any]) -> keras.Model:
    """Compile with the problem's loss and the hp optimizer."""
    model.compile(optimizer=optimizer(hp), loss=problem.loss)
    return model


def lstm_stack(hp: dict[str, Any], x: keras.KerasTensor, depth: int, last_sequences: bool,
               prefix: str = "lstm") -> keras.KerasTensor:
    """`depth` LSTM layers; all but the last return sequences, the last as `last_sequences` says."""
    for i in range(depth):
        x = lstm(hp, return_sequences=i < depth - 1 or last_sequences, name=f"{prefix}_{i + 1}")(x)
    return x
