"""Damped sine wave: predict the next points of a random damped sine (many-to-one, vector output)."""
import numpy as np

from pipeline.problems.base import Problem, regression_scores, require, require_int, rounded


class DampedSine(Problem):
    name = "damped_sine"
    description = "0.5 + 0.5 sin(2 pi i / period) exp(-decay i): X the first `length` points, y the next `output`"
    defaults = {"length": 50, "output": 5, "period_min": 10, "period_max": 20, "decay_min": 0.01, "decay_max": 0.1}
    sizes = {"n_train": 2000, "n_val": 500, "n_test": 1000}
    loss = "mae"
    output_activation = "linear"
    metric = "mae"
    direction = "minimize"
    margin = 0.002  # equivalence margin, in the metric's units

    def validate(self):
        p = self.params
        for key in ("length", "output", "period_min"):
            require_int(self.name, p, key, 1)
        require_int(self.name, p, "period_max", p["period_min"])
        require(0 <= p["decay_min"] <= p["decay_max"], self.name,
                f"need 0 <= decay_min <= decay_max (got decay_min={p['decay_min']}, decay_max={p['decay_max']})")

    @property
    def input_shape(self):
        return (self.params["length"], 1)

    @property
    def output_shape(self):
        return (self.params["output"],)

    def generate(self, n, rng):
        p = self.params
        period = rng.integers(p["period_min"], p["period_max"] + 1, size=(n, 1))
        decay = rng.uniform(p["decay_min"], p["decay_max"], size=(n, 1))
        i = np.arange(p["length"] + p["output"])[None, :]
        wave = (0.5 + 0.5 * np.sin(2 * np.pi * i / period) * np.exp(-decay * i)).astype(np.float32)
        return wave[:, :p["length"], None], wave[:, p["length"]:]

    def scores(self, y_true, y_pred):
        return regression_scores(y_true, y_pred)

    def decode_x(self, x):
        return [rounded(row[:, 0]) for row in np.asarray(x)]

    def decode_y(self, y):
        return [rounded(row) for row in np.asarray(y)]
