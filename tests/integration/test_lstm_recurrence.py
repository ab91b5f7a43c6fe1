"""The written-out LSTM backward pass (pipeline.training.towers.lstm_recurrence) against TensorFlow's own derivative."""
import numpy as np
import pytest
import tensorflow as tf

from pipeline.training.towers.lstm_recurrence import recurrence

S, T, B, U = 3, 5, 4, 6


def _derived(xs, kernel, h0, c0, mask, sequences):
    """The same recurrence, step by step in plain TensorFlow ops, differentiated by TensorFlow."""
    h, c, hs = h0, c0, []
    for t in range(T):
        z = xs[:, t] + tf.matmul(h if mask is None else h * mask, kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        hs.append(h)
    return tf.stack(hs) if sequences else h, c


@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_written_out_gradients_match_tensorflows(sequences, masked):
    rng = np.random.default_rng(0)

    def tensor(*shape, scale=1.0):
        return tf.constant(rng.normal(size=shape) * scale, tf.float32)

    xs, kernel, h0, c0 = tensor(S, T, B, 4 * U), tensor(S, U, 4 * U, scale=0.5), tensor(S, B, U), tensor(S, B, U)
    mask = tf.constant((rng.random((S, B, U)) > 0.3) / 0.7, tf.float32) if masked else None
    h_weights = tensor(T, S, B, U) if sequences else tensor(S, B, U)
    c_weights = tensor(S, B, U)

    def value_and_gradients(fn):
        with tf.GradientTape() as tape:
            tape.watch([xs, kernel, h0, c0])
            h, c = fn(xs, kernel, h0, c0, mask, sequences)
            value = tf.reduce_sum(h * h_weights) + tf.reduce_sum(c * c_weights)
        return [value] + tape.gradient(value, [xs, kernel, h0, c0])

    written = value_and_gradients(lambda *args: recurrence(*args, training=True))
    derived = value_and_gradients(_derived)
    assert float(written[0]) == float(derived[0])  # the same forward computation, to the bit
    for a, b in zip(written[1:], derived[1:]):
        assert float(tf.reduce_max(tf.abs(b))) > 0  # every input really gets a gradient
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
