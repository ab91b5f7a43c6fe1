"""The Problem interface: a seeded data source with its shapes, loss, metrics and decoder."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pipeline.errors import UsageError

# Stream offsets of the three splits: the test split comes from a stream tuning never sees.
TRAIN, VALIDATION, TEST = 0, 1, 2


@dataclass
class Splits:
    """Train / validation / test arrays of one problem instance."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def train_plus_validation(self) -> tuple[np.ndarray, np.ndarray]:
        """All data a final model may be refit on (never the test split)."""
        return (np.concatenate([self.x_train, self.x_val]),
                np.concatenate([self.y_train, self.y_val]))


class Problem:
    """A benchmark problem.

    Subclasses set the class attributes and implement `generate` (synthetic problems) or
    override `splits` (loaders), plus `scores` and the decoders.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # Size parameters with the book's values as defaults (sequence length, features, ...).
    defaults: ClassVar[dict[str, Any]] = {}
    # Sample counts used while tuning (train, validation, test).
    sizes: ClassVar[dict[str, int]] = {"n_train": 2000, "n_val": 500, "n_test": 500}
    loss: ClassVar[str]
    output_activation: ClassVar[str]
    metric: ClassVar[str]  # primary metric: the book's, the one studies optimise
    direction: ClassVar[str]  # "maximize" or "minimize" for `metric`
    # Equivalence margin of `metric` (its units): a smaller model may replace the best only when shown to
    # be worse by less than this. Problems whose metric has no natural scale set `relative_margin`.
    margin: ClassVar[float | None] = None
    relative_margin: ClassVar[float] = 0.0
    input_dtype: ClassVar[str] = "float32"
    # Capabilities, declared rather than guessed: a forecast of a series (the report keeps its candidates'
    # test forecasts and sets them beside the baselines), and scoring that runs the model itself (e.g.
    # generation fed back step by step), which fused towers cannot do.
    forecasts: ClassVar[bool] = False
    custom_evaluate: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            allowed = ", ".join(sorted(self.defaults)) or "none"
            raise UsageError(f"problem '{self.name}' has no parameter {', '.join(unknown)}; allowed: {allowed}")
        merged = dict(self.defaults)
        for key, value in params.items():
            default = self.defaults[key]
            if default is not None and not isinstance(default, str) and isinstance(value, str):
                value = _parse_like(key, value, default, self.name)
            merged[key] = value
        self.params = merged
        self.validate()

    # -- to implement ------------------------------------------------------------------
    def validate(self) -> None:
        """Check `self.params`; raise UsageError naming the bad value and what is allowed."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def output_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def generate(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw n samples (X, y) from the generator."""
        raise NotImplementedError

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        """Metrics of predictions; the primary `metric` is always among the keys."""
        raise NotImplementedError

    def decode_x(self, x: np.ndarray) -> list[Any]:
        """Readable form of inputs (one item per sample)."""
        raise NotImplementedError

    def decode_y(self, y: np.ndarray) -> list[Any]:
        """Readable form of targets or predictions (one item per sample)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    @property
    def sequence_output(self) -> bool:
        """True when the target is a sequence of steps (seq2seq framing)."""
        return len(self.output_shape) == 2

    def splits(self, seed: int = 0, n_train: int | None = None, n_val: int | None = None,
               n_test: int | None = None) -> Splits:
        """Independent train, validation and test draws; the same seed gives the same data."""
        counts = [n if n is not None else self.sizes[key]
                  for n, key in ((n_train, "n_train"), (n_val, "n_val"), (n_test, "n_test"))]
        arrays = []
        for stream, n in zip((TRAIN, VALIDATION, TEST), counts):
            arrays.extend(self.generate(int(n), np.random.default_rng([int(seed), stream])))
        return Splits(*arrays)

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, float]:
        """Predict and score; problems whose metric needs the model itself override this."""
        return self.scores(y, model.predict(x, batch_size=batch_size, verbose=0))

    def predict_raw(self, model: Any, raw: list[str]) -> list[str]:
        """Raw inputs -> readable predictions: what a served model answers."""
        return [str(y) for y in self.decode_y(model.predict(self.encode_x(raw), verbose=0))]

    def invalid_rows(self, raw: list[str]) -> list[str]:
        """"row i: reason" for each raw input that cannot be encoded (empty when every row can)."""
        errors = []
        for index, item in enumerate(raw):
            try:
                self.encode_x([item])
            except UsageError as exc:
                errors.append(f"row {index}: {exc}")
        return errors

    def item_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each test item's loss in the problem's own metric, lower is better, whose mean gives the metric
        back (1 - accuracy, 1 - exact match, MAE; the squared error for RMSE, whose mean is the MSE): the
        unit on which every claim about new data is tested (reports.stats.new_data)."""
        return item_losses(self.metric, self.output_activation, y_true, y_pred)

    def metric_of(self, mean_loss: float) -> float:
        """The metric that a mean item loss stands for (the inverse of `item_losses`' averaging)."""
        if self.metric in ("accuracy", "exact_match"):
            return 1.0 - mean_loss
        return math.sqrt(mean_loss) if self.metric == "rmse" else mean_loss

    def loss_margin(self, margin: float, at: float) -> float:
        """A margin in the metric's units as a margin of the mean item loss, near metric value `at`
        (RMSE: the MSE difference between `at` and `at` + margin)."""
        return (at + margin) ** 2 - at ** 2 if self.metric == "rmse" else margin

    def equivalence_margin(self, best: float) -> float:
        """The margin in the metric's units; `best` is the best candidate's mean (for a relative margin)."""
        return float(self.margin) if self.margin is not None else self.relative_margin * abs(float(best))

    def better(self, a: float, b: float) -> bool:
        """True when score a is strictly better than score b in this problem's direction."""
        return a > b if self.direction == "maximize" else a < b

    def describe(self) -> dict[str, Any]:
        """Data parameters, for tags and reproduction."""
        return {"problem": self.name, **self.params}

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild this problem's encoders and decoders (JSON-serialisable)."""
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Problem":
        return cls(**state["params"])

    def encode_x(self, raw: list[str]) -> np.ndarray:
        """Raw inputs (JSON lists of numbers, or of symbol indices for one-hot inputs) -> model input."""
        rows = []
        for item in raw:
            try:
                arr = np.asarray(json.loads(item) if isinstance(item, str) else item, dtype=np.float32)
            except (ValueError, TypeError):
                raise UsageError(f"problem '{self.name}': input {item!r} is not a JSON list of numbers") from None
            if arr.size == int(np.prod(self.input_shape)):
                rows.append(arr.reshape(self.input_shape))
            elif arr.size == int(np.prod(self.input_shape[:-1])) and np.all(arr == np.round(arr)) and \
                    arr.min() >= 0 and arr.max() < self.input_shape[-1]:
                rows.append(one_hot(arr.astype(int).reshape(self.input_shape[:-1]), self.input_shape[-1]))
            else:
                raise UsageError(f"problem '{self.name}': input {item!r} has {arr.size} values; expected "
                                 f"{int(np.prod(self.input_shape))} numbers (shape {self.input_shape})")
        return np.stack(rows).astype(self.input_dtype)


def _parse_like(key: str, value: str, default: Any, problem: str) -> Any:
    """Parse a command-line string to the type of the default value."""
    kind = type(default)
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        return kind(value)
    except ValueError:
        expected = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, kind.__name__)
        raise UsageError(f"problem '{problem}': {key}={value!r} must be {expected}") from None


def require(condition: bool, problem: str, message: str) -> None:
    """Raise a UsageError for problem unless condition holds."""
    if not condition:
        raise UsageError(f"problem '{problem}': {message}")


def one_hot(indices: np.ndarray, depth: int) -> np.ndarray:
    """One-hot encode integer indices along a new last axis, as float32."""
    return np.eye(depth, dtype=np.float32)[indices]


def exact_match(y_true_idx: np.ndarray, y_pred_idx: np.ndarray) -> float:
    """Share of samples whose every step is right (arrays of shape (n, steps))."""
    return float(np.mean(np.all(y_true_idx.reshape(len(y_true_idx), -1) == y_pred_idx.reshape(len(y_pred_idx), -1),
                                axis=1)))


def categorical_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy (per step for sequences) and exact match of one-hot targets vs softmax outputs."""
    t, p = y_true.argmax(-1), y_pred.argmax(-1)
    scores = {"accuracy": float(np.mean(t == p))}
    if t.ndim > 1:
        scores["exact_match"] = exact_match(t, p)
    return scores


def binary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy (per step) at threshold 0.5, and exact match over each sample's steps."""
    t, p = y_true > 0.5, y_pred > 0.5
    return {"accuracy": float(np.mean(t == p)), "exact_match": exact_match(t, p)}


def rounded(values, digits: int = 4) -> list:
    """A float array as (nested) Python lists of rounded floats, for display."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def item_losses(metric: str, output_activation: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-item losses of `metric` (see Problem.item_losses): a class is read by argmax after a softmax,
    by the 0.5 threshold after a sigmoid."""
    n = len(y_true)
    if metric in ("accuracy", "exact_match"):
        t, p = np.asarray(y_true), np.asarray(y_pred)
        wrong = t.argmax(-1) != p.argmax(-1) if output_activation == "softmax" else (t > 0.5) != (p > 0.5)
        wrong = wrong.reshape(n, -1)
        return wrong.mean(axis=1) if metric == "accuracy" else wrong.any(axis=1).astype(float)
    err = (np.asarray(y_pred, float) - np.asarray(y_true, float)).reshape(n, -1)
    if metric == "mae":
        return np.abs(err).mean(axis=1)
    if metric == "rmse":
        return (err ** 2).mean(axis=1)
    raise ValueError(f"no per-item loss for metric '{metric}'")


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    err = np.asarray(y_pred, float) - np.asarray(y_true, float)
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2)))}


def require_int(problem: str, params: dict[str, Any], key: str, minimum: int = 1, maximum: int | None = None) -> None:
    """Check that params[key] is an integer in [minimum, maximum] (no upper bound when maximum is None)."""
    value = params[key]
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and \
        value >= minimum and (maximum is None or value <= maximum)
    require(ok, problem, f"{key} must be an integer {allowed} (got {value!r})")
