"""Cumulative sum: per step, has the running sum of random values passed length/4? (seq2seq, equal lengths)."""
import numpy as np

from pipeline.problems.base import Problem, binary_scores, require_int, rounded


class CumulativeSum(Problem):
    name = "cumulative_sum"
    description = "X: `length` values in [0, 1); y[t] = 1 once the running sum exceeds length/4"
    defaults = {"length": 10}
    sizes = {"n_train": 2000, "n_val": 500, "n_test": 500}
    loss = "binary_crossentropy"
    output_activation = "sigmoid"
    metric = "accuracy"
    direction = "maximize"
    margin = 0.005  # equivalence margin, in the metric's units

    def validate(self):
        require_int(self.name, self.params, "length", 1)

    @property
    def input_shape(self):
        return (self.params["length"], 1)

    @property
    def output_shape(self):
        return (self.params["length"], 1)

    def generate(self, n, rng):
        length = self.params["length"]
        x = rng.random((n, length)).astype(np.float32)
        y = (np.cumsum(x, axis=1) > length / 4.0).astype(np.float32)
        return x[..., None], y[..., None]

    def scores(self, y_true, y_pred):
        return binary_scores(y_true, y_pred)

    def decode_x(self, x):
        return [rounded(row[:, 0]) for row in np.asarray(x)]

    def decode_y(self, y):
        return [(np.asarray(row)[:, 0] > 0.5).astype(int).tolist() for row in np.asarray(y)]
