"""One function that makes a (configuration, seed) pair reproducible."""
import os
import random

import numpy as np

_determinism_enabled = False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras/TensorFlow, with TensorFlow op determinism on."""
    global _determinism_enabled
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if not _determinism_enabled:
        tf.config.experimental.enable_op_determinism()
        _determinism_enabled = True
