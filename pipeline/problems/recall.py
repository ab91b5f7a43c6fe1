"""Recall (for attention): output the first values of a long random sequence after all of it is read."""
import numpy as np

from pipeline.problems.base import Problem, categorical_scores, one_hot, require_int


class Recall(Problem):
    name = "recall"
    description = "X: `length` random symbols of `symbols`, one-hot; y: the first `recall` of them"
    defaults = {"length": 50, "symbols": 50, "recall": 2}
    sizes = {"n_train": 5000, "n_val": 1000, "n_test": 1000}
    loss = "categorical_crossentropy"
    output_activation = "softmax"
    metric = "exact_match"
    direction = "maximize"
    margin = 0.01  # equivalence margin, in the metric's units

    def validate(self):
        require_int(self.name, self.params, "length", 1)
        require_int(self.name, self.params, "symbols", 2)
        require_int(self.name, self.params, "recall", 1, self.params["length"])

    @property
    def input_shape(self):
        return (self.params["length"], self.params["symbols"])

    @property
    def output_shape(self):
        return (self.params["recall"], self.params["symbols"])

    def generate(self, n, rng):
        seq = rng.integers(0, self.params["symbols"], size=(n, self.params["length"]))
        return one_hot(seq, self.params["symbols"]), one_hot(seq[:, :self.params["recall"]], self.params["symbols"])

    def scores(self, y_true, y_pred):
        return categorical_scores(y_true, y_pred)

    def decode_x(self, x):
        return [row.tolist() for row in np.asarray(x).argmax(-1)]

    def decode_y(self, y):
        return [row.tolist() for row in np.asarray(y).argmax(-1)]
