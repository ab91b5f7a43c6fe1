"""Moving square: is a line drawn across a video moving right or left? (many-to-one binary classification)."""
import numpy as np

from pipeline.problems.base import Problem, binary_scores, require_int


class MovingSquare(Problem):
    name = "moving_square"
    description = "size x size frames; a line grows one column per frame from the left or right edge"
    defaults = {"size": 50}
    sizes = {"n_train": 1000, "n_val": 200, "n_test": 200}
    loss = "binary_crossentropy"
    output_activation = "sigmoid"
    metric = "accuracy"
    direction = "maximize"
    margin = 0.005  # equivalence margin, in the metric's units
    input_dtype = "uint8"  # 5,000 videos of 50^3 pixels: 625 MB as uint8, 2.5 GB as float32

    def validate(self):
        require_int(self.name, self.params, "size", 4)  # the CNN front end needs a few pixels

    @property
    def input_shape(self):
        s = self.params["size"]
        return (s, s, s, 1)

    @property
    def output_shape(self):
        return (1,)

    def walk(self, n, rng):
        """Rows (n, size) of a ±1 random walk clipped to the frame, columns (n, size), labels (n,)."""
        size = self.params["size"]
        right = rng.random(n) < 0.5
        rows = np.empty((n, size), dtype=np.int64)
        rows[:, 0] = rng.integers(0, size, n)
        steps = rng.choice((-1, 1), size=(n, size - 1))
        for t in range(1, size):
            rows[:, t] = np.clip(rows[:, t - 1] + steps[:, t - 1], 0, size - 1)
        cols = np.where(right[:, None], np.arange(size)[None, :], size - 1 - np.arange(size)[None, :])
        return rows, cols, right

    def generate(self, n, rng):
        size = self.params["size"]
        rows, cols, right = self.walk(n, rng)
        x = np.zeros((n, size, size, size, 1), dtype=np.uint8)
        idx = np.arange(n)[:, None]
        for k in range(size):  # the pixel drawn at step k stays in every later frame
            frames = np.arange(k, size)[None, :]
            x[idx, frames, rows[:, k:k + 1], cols[:, k:k + 1], 0] = 1
        return x, right.astype(np.float32)[:, None]

    def scores(self, y_true, y_pred):
        return {"accuracy": binary_scores(y_true, y_pred)["accuracy"]}

    def decode_x(self, x):
        """One line per video: where the line starts, which way it moves, how many pixels the last frame has."""
        out = []
        for video in np.asarray(x)[..., 0]:
            first = np.argwhere(video[0])
            if len(first) == 0:
                out.append("empty video")
                continue
            row, col = (int(v) for v in first[0])
            way = "right" if col == 0 else "left" if col == video.shape[-1] - 1 else "?"
            out.append(f"start row {row}, column {col}, moving {way}; {int(video[-1].sum())} pixels")
        return out

    def decode_y(self, y):
        return ["right" if v > 0.5 else "left" for v in np.asarray(y).reshape(-1)]
