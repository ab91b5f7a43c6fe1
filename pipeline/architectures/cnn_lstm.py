"""CNN-LSTM: a per-frame Conv2D feature extractor (TimeDistributed) feeding LSTM layers."""
import keras
from keras import layers

from pipeline.architectures.common import head, lstm_stack, model_input


def build(problem, hp) -> keras.Model:
    inputs, x = model_input(problem)
    x = layers.TimeDistributed(layers.Conv2D(hp["filters"], hp["kernel_size"], activation="relu",
                                             kernel_initializer=hp["kernel_initializer"]), name="conv")(x)
    x = layers.TimeDistributed(layers.MaxPooling2D(hp["pool_size"]), name="pool")(x)
    x = layers.TimeDistributed(layers.Flatten(), name="flatten")(x)
    x = lstm_stack(hp, x, hp["layers"], last_sequences=False)
    return keras.Model(inputs, head(problem, x), name="cnn_lstm")
