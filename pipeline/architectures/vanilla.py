"""Vanilla LSTM: one LSTM layer, then the output head."""
import keras

from pipeline.architectures.common import aligned, head, lstm_stack, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    x = lstm_stack(hp, x, 1, last_sequences=aligned(problem))
    return keras.Model(inputs, head(problem, x), name="vanilla")
