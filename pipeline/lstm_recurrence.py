"""The LSTM recurrence of all towers at once for short sequences: unrolled, with its backward pass written
out (backpropagation through time) instead of derived by TensorFlow.

Derived, a step's gradient goes through the loop's tensor lists, zero-filled gradients of unused outputs
and one small weight-gradient matmul per step. Written out, the backward steps carry only what is truly
sequential (the gradients into h and c); every per-step factor is computed for all steps at once before
them, and the recurrent kernel's gradient is one matmul over all steps after them. The forward
computation is TowerLSTM's step (Keras's gate layout i, f, c, o, sigmoid gates, tanh) to the bit;
gradients agree with TensorFlow's to float rounding.
"""
from __future__ import annotations

import tensorflow as tf

MAX_STEPS = 64  # longer sequences keep the symbolic loop (an unrolled graph grows with every step)


def _matmul_over_steps(a, b):
    """sum over t and b of a[s, t, b, :]^T b[s, t, b, :]: (S, T, B, m), (S, T, B, n) -> (S, m, n)."""
    towers = tf.shape(a)[0]
    return tf.matmul(tf.reshape(a, (towers, -1, a.shape[-1])), tf.reshape(b, (towers, -1, b.shape[-1])),
                     transpose_a=True)


def recurrence(xs, recurrent_kernel, h0, c0, mask=None):
    """hs, cs: every step's h and c, (S, T, B, u), of the LSTMs whose input projections (x W + b, gates
    i, f, c, o) are xs (S, T, B, 4u) with T static, recurrent kernels (S, u, 4u), starting from h0, c0
    (S, B, u); `mask` (S, B, u), if any, is the recurrent dropout mask applied to h before each
    recurrent matmul."""

    @tf.custom_gradient
    def run(xs, kernel, h0, c0):
        h, c, hs, cs, gates = h0, c0, [], [], []
        for t in range(xs.shape[1]):
            z = xs[:, t] + tf.matmul(h if mask is None else h * mask, kernel)
            i, f, g, o = tf.split(z, 4, axis=-1)
            i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
            c = f * c + i * g
            h = o * tf.tanh(c)
            hs.append(h), cs.append(c), gates.append((i, f, g, o))

        def grad(dhs, dcs):
            dh = dc = None
            dzs = []
            for t in reversed(range(len(hs))):
                i, f, g, o = gates[t]
                tc = tf.tanh(cs[t])
                dh = dhs[:, t] if dh is None else dhs[:, t] + dh
                dc = dcs[:, t] + dh * (o * (1 - tc * tc)) if dc is None else dcs[:, t] + dc + dh * (o * (1 - tc * tc))
                c_prev = c0 if t == 0 else cs[t - 1]
                dz = tf.concat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                dh * tc * o * (1 - o)], axis=-1)
                dh = tf.matmul(dz, kernel, transpose_b=True)
                if mask is not None:
                    dh = dh * mask
                dc = dc * f
                dzs.append(dz)
            dz = tf.stack(dzs[::-1], axis=1)
            h_prev = tf.stack([h0] + hs[:-1], axis=1)
            dkernel = _matmul_over_steps(h_prev if mask is None else h_prev * mask, dz)
            return dz, dkernel, dh, dc

        return (tf.stack(hs, axis=1), tf.stack(cs, axis=1)), grad

    return run(xs, recurrent_kernel, h0, c0)
