"""Shape generation: learn to draw a rectangle clockwise from (0, 0), one corner at a time (generative)."""
import math

import numpy as np

from pipeline.problems.base import Problem, regression_scores, rounded

DEGENERATE = 0.1  # a fitted rectangle narrower than this is penalised (a model drawing a dot scores badly)


def rectangle_error(points: np.ndarray) -> float:
    """Mean distance of generated points 1..3 (of 4, from (0, 0)) from the corners (0, h), (w, h), (w, 0) of the
    least-squares rectangle anchored at (0, 0), plus DEGENERATE - min(w, h) when that is positive (a dot, a line,
    or a rectangle drawn the wrong way round)."""
    p = np.asarray(points, float).reshape(4, 2)
    h = (p[1, 1] + p[2, 1]) / 2
    w = (p[2, 0] + p[3, 0]) / 2
    ideal = np.array([[0, h], [w, h], [w, 0]])
    error = float(np.mean(np.linalg.norm(p[1:4] - ideal, axis=1)))
    return error + max(0.0, DEGENERATE - min(w, h))


class ShapeGeneration(Problem):
    name = "shape_generation"
    description = "corners of a random rectangle traced clockwise from (0, 0): point -> next point"
    defaults = {}
    sizes = {"n_train": 6000, "n_val": 1500, "n_test": 1500}
    loss = "mae"
    output_activation = "linear"
    metric = "mae"
    direction = "minimize"
    margin = 0.005  # equivalence margin, in the metric's units
    custom_evaluate = True  # the drawn shape: each prediction fed back in

    @property
    def input_shape(self):
        return (1, 2)

    @property
    def output_shape(self):
        return (2,)

    def generate(self, n, rng):
        count = math.ceil(n / 3)
        w, h = rng.random(count), rng.random(count)
        corners = np.zeros((count, 4, 2))  # (0, 0) -> (0, h) -> (w, h) -> (w, 0)
        corners[:, 1:3, 1] = h[:, None]
        corners[:, 2:4, 0] = w[:, None]
        x = corners[:, :3].reshape(-1, 1, 2)[:n].astype(np.float32)
        y = corners[:, 1:].reshape(-1, 2)[:n].astype(np.float32)
        return x, y

    def generate_rectangle(self, model) -> np.ndarray:
        """Start at (0, 0) and feed each prediction back in three times: 4 points (4, 2)."""
        points = [np.zeros(2, dtype=np.float32)]
        for _ in range(3):
            step = model.predict(points[-1].reshape(1, 1, 2).astype(np.float32), verbose=0)
            points.append(np.asarray(step, dtype=np.float32).reshape(2))
        return np.stack(points)

    def scores(self, y_true, y_pred):
        return regression_scores(y_true, y_pred)

    def evaluate(self, model, x, y, batch_size=256):
        scores = super().evaluate(model, x, y, batch_size)
        scores["rectangle_error"] = rectangle_error(self.generate_rectangle(model))
        return scores

    def decode_x(self, x):
        return [tuple(rounded(row.reshape(2))) for row in np.asarray(x)]

    def decode_y(self, y):
        return [tuple(rounded(row.reshape(2))) for row in np.asarray(y)]
