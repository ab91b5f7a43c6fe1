"""The compute floor of a training workload: its FLOPs over a measured large-matmul rate, and a
bare `tf.function` training loop of the same model (no Keras fit, no callbacks, no validation)."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import keras
import tensorflow as tf
from keras import layers

from pipeline.architectures import build_model
from pipeline.training.seeding import seed_everything


def forward_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of one sample's forward pass through LSTM and Dense layers."""
    total = 0.0
    for layer in model.layers:
        inner = layer.layer if isinstance(layer, layers.TimeDistributed) else layer
        if isinstance(inner, layers.Bidirectional):
            steps, features = layer.input.shape[1], layer.input.shape[-1]
            units = inner.forward_layer.units
            total += 2 * steps * 2 * 4 * units * (features + units)
        elif isinstance(inner, layers.LSTM):
            steps, features = layer.input.shape[1], layer.input.shape[-1]
            total += steps * 2 * 4 * inner.units * (features + inner.units)
        elif isinstance(inner, layers.Dense):
            repeat = math.prod(layer.input.shape[1:-1]) if len(layer.input.shape) > 2 else 1
            total += repeat * 2 * layer.input.shape[-1] * inner.units
    return total


def workload_flops(model: keras.Model, n_train: int, n_val: int, epochs: int, seeds: int) -> float:
    """Training (forward + backward = 3 forward passes) plus per-epoch validation, over all seeds."""
    return seeds * epochs * forward_flops(model) * (3 * n_train + n_val)


TF_DEFAULT_THREADS = {"TF_NUM_INTRAOP_THREADS": "0", "TF_NUM_INTEROP_THREADS": "0"}  # 0: TensorFlow chooses


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a large float32 matmul on this machine with TensorFlow's own thread defaults (the best the
    hardware does in practice), measured in a fresh interpreter: this process runs one thread per op."""
    code = f"import bench.floor as f; print(f._matmul_rate({n}, {repeats}))"
    env = {**os.environ, **TF_DEFAULT_THREADS}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def _matmul_rate(n: int, repeats: int) -> float:
    a = tf.random.normal((n, n))
    step = tf.function(lambda x: tf.linalg.matmul(x, x))
    step(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = step(a)
    out.numpy()
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def bare_loop_seconds(problem, architecture: str, hp: dict, seeds: list[int], train, epochs: int) -> float:
    """Seconds to train the plain model once per seed with a minimal compiled loop."""
    total = 0.0
    x = tf.constant(train[0])
    y = tf.constant(train[1])
    for seed in seeds:
        keras.backend.clear_session(free_memory=False)
        seed_everything(seed)
        model = build_model(architecture, problem, hp)
        loss_fn = keras.losses.get(problem.loss)
        opt = model.optimizer

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(loss_fn(yb, model(xb, training=True)))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(train[0]), seed=seed) \
            .batch(hp["batch_size"]).prefetch(2)
        start = time.perf_counter()
        for _ in range(epochs):
            for xb, yb in data:
                loss = step(xb, yb)
        float(loss)
        total += time.perf_counter() - start
    return total
