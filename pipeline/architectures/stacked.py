"""Stacked LSTM: `layers` (at least 2) LSTM layers, each but the last returning sequences."""
import keras

from pipeline.architectures.common import aligned, head, lstm_stack, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    x = lstm_stack(hp, x, max(2, hp["layers"]), last_sequences=aligned(problem))
    return keras.Model(inputs, head(problem, x), name="stacked")
