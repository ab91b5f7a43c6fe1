"""Addition: read 'a+b+c' as characters, write the sum (seq2seq, input and output of different lengths)."""
import numpy as np

from pipeline.errors import UsageError
from pipeline.problems.base import Problem, categorical_scores, one_hot, require

ALPHABET = "0123456789+ "
INDEX = {ch: i for i, ch in enumerate(ALPHABET)}


class Addition(Problem):
    name = "addition"
    description = "'a+b+c' (terms in [1, largest]) left-padded with spaces -> the sum, left-padded"
    defaults = {"terms": 3, "largest": 10}
    sizes = {"n_train": 5000, "n_val": 1000, "n_test": 1000}
    loss = "categorical_crossentropy"
    output_activation = "softmax"
    metric = "accuracy"
    direction = "maximize"

    def validate(self):
        require(self.params["terms"] >= 2, self.name, "terms must be >= 2")
        require(self.params["largest"] >= 1, self.name, "largest must be >= 1")

    @property
    def in_length(self):
        p = self.params
        return p["terms"] * len(str(p["largest"])) + p["terms"] - 1

    @property
    def out_length(self):
        return len(str(self.params["terms"] * self.params["largest"]))

    @property
    def input_shape(self):
        return (self.in_length, len(ALPHABET))

    @property
    def output_shape(self):
        return (self.out_length, len(ALPHABET))

    def generate(self, n, rng):
        terms = rng.integers(1, self.params["largest"] + 1, size=(n, self.params["terms"]))
        inputs = ["+".join(map(str, row)) for row in terms.tolist()]
        outputs = [str(s) for s in terms.sum(axis=1).tolist()]
        return self._encode(inputs, self.in_length), self._encode(outputs, self.out_length)

    @staticmethod
    def _encode(strings, length):
        padded = "".join(s.rjust(length) for s in strings)
        idx = np.frombuffer(padded.encode("ascii"), dtype=np.uint8)
        lookup = np.zeros(256, dtype=np.int64)
        for ch, i in INDEX.items():
            lookup[ord(ch)] = i
        return one_hot(lookup[idx].reshape(len(strings), length), len(ALPHABET))

    def encode_x(self, raw):
        """Raw strings such as ' 9+6+9' -> one-hot inputs (left-padded to the input length)."""
        for s in raw:
            bad = sorted(set(s) - set(ALPHABET))
            if bad:
                raise UsageError(f"problem 'addition': input {s!r} has characters outside '0-9', '+' and space: "
                                 f"{''.join(bad)!r}")
            if len(s.strip()) > self.in_length:
                raise UsageError(f"problem 'addition': input {s!r} is longer than {self.in_length} characters")
        return self._encode([s.strip() for s in raw], self.in_length)

    def scores(self, y_true, y_pred):
        return categorical_scores(y_true, y_pred)

    @staticmethod
    def _decode(arr):
        return ["".join(ALPHABET[i] for i in row) for row in np.asarray(arr).argmax(-1)]

    def decode_x(self, x):
        return self._decode(x)

    def decode_y(self, y):
        return [s.strip() for s in self._decode(y)]
