"""Echo: remember the value at one position of a random one-hot sequence (many-to-one classification)."""
import numpy as np

from pipeline.problems.base import Problem, categorical_scores, one_hot, require_int


class Echo(Problem):
    name = "echo"
    description = "many-to-one: output the one-hot value seen at index out_index"
    defaults = {"length": 5, "features": 10, "out_index": 2}
    sizes = {"n_train": 2000, "n_val": 500, "n_test": 500}
    loss = "categorical_crossentropy"
    output_activation = "softmax"
    metric = "accuracy"
    direction = "maximize"
    margin = 0.005  # equivalence margin, in the metric's units

    def validate(self):
        require_int(self.name, self.params, "length", 1)
        require_int(self.name, self.params, "features", 2)
        require_int(self.name, self.params, "out_index", 0, self.params["length"] - 1)

    @property
    def input_shape(self):
        return (self.params["length"], self.params["features"])

    @property
    def output_shape(self):
        return (self.params["features"],)

    def generate(self, n, rng):
        seq = rng.integers(0, self.params["features"], size=(n, self.params["length"]))
        return one_hot(seq, self.params["features"]), one_hot(seq[:, self.params["out_index"]], self.params["features"])

    def scores(self, y_true, y_pred):
        return categorical_scores(y_true, y_pred)

    def decode_x(self, x):
        return [row.tolist() for row in np.asarray(x).argmax(-1)]

    def decode_y(self, y):
        return [int(v) for v in np.asarray(y).argmax(-1)]
