"""The LSTM recurrence of all towers at once for short sequences: unrolled, with its backward pass written
out (backpropagation through time) instead of derived by TensorFlow.

Derived from a symbolic loop, a step's gradient goes through the loop's tensor lists, zero-filled
gradients of unused outputs and one small weight-gradient matmul per step. Written out, the backward
steps carry only what is truly sequential (the gradients into h and c), and the recurrent kernel's
gradient is one matmul over all steps. Every path computes a step with `cell` (Keras's gate layout i, f, c,
o), so the forward pass is the same to the bit; gradients agree with TensorFlow's to float rounding.
The towers are the batch of every matmul; a step's tensors are contiguous slices of time-major ones.
"""
from __future__ import annotations

import tensorflow as tf
from tensorflow.python.framework import ops

MAX_STEPS = 64  # longer sequences keep the symbolic loop (an unrolled graph grows with every step)
_REGISTERED: list[str] = []  # gradient functions tf.custom_gradient registered for traced training steps


def recurrence(xs, recurrent_kernel, h0, c0, mask=None, sequences: bool = True, training: bool = False):
    """(h, c): every step's h, time-major (T, S, B, u), or with `sequences` False the last step's (S, B, u);
    and the last step's c (S, B, u). They are the states of the LSTMs whose input projections (x W + b,
    gates i, f, c, o) are xs (S, T, B, 4u), T static, with recurrent kernels (S, u, 4u), starting from h0,
    c0 (S, B, u); `mask` (S, B, u), if any, is the recurrent dropout mask applied to h before each
    recurrent matmul. With `training`, gradients take the written-out backward pass."""
    def outputs(hs, cs):
        return tf.stack(hs) if sequences else hs[-1], cs[-1]

    if not training:
        return outputs(*_forward(xs, recurrent_kernel, h0, c0, mask)[:2])

    @tf.custom_gradient
    def run(xs, kernel, h0, c0):
        hs, cs, gates = _forward(xs, kernel, h0, c0, mask)

        def grad(dh_out, dc):
            # Every step's factors at once (time-major, (T, S, B, ...)): dz_t = [dc, dc, dc, dh]_t * factors_t.
            i, f, g, o = (tf.stack(gate) for gate in zip(*gates))
            c_prev, tc = tf.stack([c0] + cs[:-1]), tf.tanh(tf.stack(cs))
            factors = tf.unstack(tf.stack([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)],
                                          axis=-2))  # (S, B, 4, u) per step: gates i, f, c, o
            through_c, f = tf.unstack(o * (1 - tc * tc)), tf.unstack(f)  # dh_t -> dc_t; dc_t -> dc_t-1
            dhs = tf.unstack(dh_out) if sequences else [None] * (len(hs) - 1) + [dh_out]
            dh, dzs, gates_shape = None, [], tf.stack([*tf.unstack(tf.shape(h0))[:2], 4 * h0.shape[-1]])
            for t in reversed(range(len(hs))):
                dh = dhs[t] if dh is None else dh if dhs[t] is None else dhs[t] + dh
                dc = dc + dh * through_c[t]
                dz = tf.reshape(tf.stack([dc, dc, dc, dh], axis=-2) * factors[t], gates_shape)
                dh = tf.matmul(dz, kernel, transpose_b=True)
                if mask is not None:
                    dh = dh * mask
                dc = dc * f[t]
                dzs.append(dz)
            dz = tf.transpose(tf.stack(dzs[::-1]), (1, 0, 2, 3))
            h_prev = tf.transpose(tf.stack([h0] + hs[:-1]), (1, 0, 2, 3))
            if mask is not None:
                h_prev = h_prev * mask[:, None]
            towers = tf.shape(dz)[0]
            dkernel = tf.matmul(tf.reshape(h_prev, (towers, -1, h_prev.shape[-1])),
                                tf.reshape(dz, (towers, -1, dz.shape[-1])), transpose_a=True)  # all steps at once
            return dz, dkernel, dh, dc

        return outputs(hs, cs), grad

    h, c = run(xs, recurrent_kernel, h0, c0)
    if not tf.executing_eagerly():
        _REGISTERED.append(h.op.get_attr("_gradient_op_type").decode())
    return h, c


def release_gradients() -> None:
    """Forget the gradient functions of the training steps traced so far. tf.custom_gradient registers one
    per trace, for good, and it holds the traced graph; a traced step has its backward pass already, so
    call this once a step is traced, or every model trained would stay in memory."""
    while _REGISTERED:
        ops._gradient_registry._registry.pop(_REGISTERED.pop(), None)  # noqa: SLF001 - no public way


def cell(x_t, h, c, kernel, activation=tf.tanh, recurrent_activation=tf.sigmoid):
    """One step of every tower's LSTM from its input projection x_t (S, B, 4u) and its (masked) h and c:
    the new h and c, and the gates i, f, g, o after their activations."""
    z = x_t + tf.matmul(h, kernel)  # (S, B, 4u): all towers in one batched matmul
    i, f, g, o = tf.split(z, 4, axis=-1)
    i, f, g, o = recurrent_activation(i), recurrent_activation(f), activation(g), recurrent_activation(o)
    c = f * c + i * g
    return o * activation(c), c, (i, f, g, o)


def _forward(xs, kernel, h0, c0, mask):
    """Every step's h and c, and its gates i, f, g, o (after their activations), as lists over steps."""
    h, c, hs, cs, gates = h0, c0, [], [], []
    for x_t in tf.unstack(tf.transpose(xs, (1, 0, 2, 3))):  # one transpose: each step's slice shared, not copied
        h, c, step_gates = cell(x_t, h if mask is None else h * mask, c, kernel)
        hs.append(h), cs.append(c), gates.append(step_gates)
    return hs, cs, gates
