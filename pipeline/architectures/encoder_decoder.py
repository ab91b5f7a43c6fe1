"""Encoder-decoder LSTM: encoder LSTM(s) -> RepeatVector(output steps) -> decoder LSTM -> per-step Dense."""
import keras
from keras import layers

from pipeline.architectures.common import head, lstm, lstm_stack, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    x = lstm_stack(hp, x, hp["layers"], last_sequences=False, prefix="encoder")
    x = layers.RepeatVector(problem.output_shape[0], name="repeat")(x)
    x = lstm(hp, return_sequences=True, units=hp["decoder_units"], name="decoder")(x)
    return keras.Model(inputs, head(problem, x), name="encoder_decoder")
