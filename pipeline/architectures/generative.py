"""Generative LSTM: predicts the next point; the problem's evaluate() feeds predictions back in."""
import keras

from pipeline.architectures.common import head, lstm_stack, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    x = lstm_stack(hp, x, hp["layers"], last_sequences=False)
    return keras.Model(inputs, head(problem, x), name="generative")
