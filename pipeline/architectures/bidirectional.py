"""Bidirectional LSTM: forward and backward passes merged by `merge_mode`."""
import keras
from keras import layers

from pipeline.architectures.common import aligned, head, lstm, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    for i in range(hp["layers"]):
        seq = i < hp["layers"] - 1 or aligned(problem)
        x = layers.Bidirectional(lstm(hp, return_sequences=seq), merge_mode=hp["merge_mode"],
                                 name=f"bilstm_{i + 1}")(x)
    return keras.Model(inputs, head(problem, x), name="bidirectional")
