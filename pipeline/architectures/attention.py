"""Attention encoder-decoder: each decoder step attends over all encoder steps (Luong dot attention)."""
import keras
from keras import layers

from pipeline.architectures.common import head, lstm, lstm_stack, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    x = lstm_stack(hp, x, hp["layers"] - 1, last_sequences=True, prefix="encoder")
    encoded, h, c = lstm(hp, return_sequences=True, return_state=True, name="encoder_top")(x)
    query = layers.RepeatVector(problem.output_shape[0], name="repeat")(h)
    decoded = lstm(hp, return_sequences=True, name="decoder")(query, initial_state=[h, c])
    context = layers.Attention(name="attention")([decoded, encoded])
    x = layers.Concatenate(name="decoded_context")([decoded, context])
    return keras.Model(inputs, head(problem, x), name="attention")
