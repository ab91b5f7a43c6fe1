"""Addition: read 'a+b+c' as characters, write the sum (seq2seq, input and output of different lengths)."""
import numpy as np

from pipeline.errors import UsageError
from pipeline.problems.base import Problem, categorical_scores, one_hot, require_int

ALPHABET = "0123456789+ "
PLUS, SPACE = ALPHABET.index("+"), ALPHABET.index(" ")
_LOOKUP = np.zeros(256, dtype=np.int64)  # ASCII code -> symbol index
_LOOKUP[[ord(ch) for ch in ALPHABET]] = np.arange(len(ALPHABET))


def right_aligned(terms: np.ndarray, length: int) -> np.ndarray:
    """Symbol indices (n, length) of the strings '+'.join(row) for integer rows >= 0, left-padded with spaces."""
    n = len(terms)
    out = np.full((n, length), SPACE, dtype=np.int64)
    rows = np.arange(n)
    end = np.full(n, length)  # exclusive end of the part still to write, per row
    width = len(str(int(terms.max(initial=0))))
    for j in range(terms.shape[1] - 1, -1, -1):
        value = terms[:, j]
        digits = 1 + sum((value >= 10 ** k).astype(np.int64) for k in range(1, width))
        for k in range(width):  # k-th digit from the right
            has = k < digits
            out[rows[has], end[has] - 1 - k] = (value[has] // 10 ** k) % 10
        end = end - digits
        if j:
            out[rows, end - 1] = PLUS
            end = end - 1
    return out


class Addition(Problem):
    name = "addition"
    description = "'a+b+c' (terms in [1, largest]) left-padded with spaces -> the sum, left-padded"
    defaults = {"terms": 3, "largest": 10}
    sizes = {"n_train": 5000, "n_val": 1000, "n_test": 1000}
    loss = "categorical_crossentropy"
    output_activation = "softmax"
    metric = "accuracy"
    direction = "maximize"
    margin = 0.005  # equivalence margin, in the metric's units

    def validate(self):
        require_int(self.name, self.params, "terms", 2)
        require_int(self.name, self.params, "largest", 1)

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
        x = right_aligned(terms, self.in_length)
        y = right_aligned(terms.sum(axis=1, keepdims=True), self.out_length)
        return one_hot(x, len(ALPHABET)), one_hot(y, len(ALPHABET))

    def encode_x(self, raw):
        """Raw strings such as ' 9+6+9' -> one-hot inputs (left-padded with spaces to the input length)."""
        strings = [str(s).strip() for s in raw]
        for original, s in zip(raw, strings):
            bad = sorted(set(s) - set(ALPHABET))
            if bad:
                raise UsageError(f"problem 'addition': input {original!r} has characters outside '0-9', '+' and "
                                 f"space: {''.join(bad)!r}")
            if len(s) > self.in_length:
                raise UsageError(f"problem 'addition': input {original!r} is longer than {self.in_length} characters "
                                 f"(terms={self.params['terms']}, largest={self.params['largest']})")
            terms = s.replace(" ", "").split("+")
            p = self.params
            if len(terms) != p["terms"] or not all(t.isdigit() and 1 <= int(t) <= p["largest"] for t in terms):
                raise UsageError(f"problem 'addition': input {original!r} must be {p['terms']} whole numbers from 1 "
                                 f"to {p['largest']} joined by '+', as the model was trained")
        codes = np.frombuffer("".join(s.rjust(self.in_length) for s in strings).encode("ascii"), dtype=np.uint8)
        return one_hot(_LOOKUP[codes].reshape(len(strings), self.in_length), len(ALPHABET))

    def scores(self, y_true, y_pred):
        return categorical_scores(y_true, y_pred)

    @staticmethod
    def _decode(arr):
        return ["".join(ALPHABET[i] for i in row) for row in np.asarray(arr).argmax(-1)]

    def decode_x(self, x):
        return self._decode(x)

    def decode_y(self, y):
        return [s.strip() for s in self._decode(y)]
