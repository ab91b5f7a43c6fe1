"""Under/over-fit verdicts from learning curves, per seed and overall, judged on absolute amounts.

- underfit: the training loss itself is high (above HIGH of the loss a constant prediction makes on the
  training targets), or the validation curve is still improving at the end by more than an amount that
  matters: the margin, in the metric's units (val_<metric>), or, without that curve, LOSS_TOLERANCE of
  the constant prediction's loss. A loss near zero that still falls by a few percent is not underfitting.
- overfit: the validation loss rises after its minimum (by more than RISE of it, and by more than an amount
  that matters) while the training loss goes on falling.
- good fit otherwise; undetermined when the curves are too short to say.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

UNDERFIT, GOOD, OVERFIT, UNKNOWN = "underfit", "good fit", "overfit", "undetermined"
ADVICE = {
    UNDERFIT: "add epochs or capacity (cells, layers)",
    GOOD: "keep: both curves settle together",
    OVERFIT: "stop earlier, regularize (dropout, L2) or add data",
    UNKNOWN: "train for more epochs to judge",
}
HIGH = 0.5  # a training loss above this share of a constant prediction's loss is high
RISE = 0.10  # a validation loss this far above its minimum (relative) has risen...
LOSS_TOLERANCE = 0.01  # ...if also by this share of a constant prediction's loss (the amount that matters)
WINDOW = 3  # epochs over which "still improving" is judged


@dataclass
class Verdict:
    label: str
    reason: str


@dataclass(frozen=True)
class Scale:
    """What amounts matter for a problem: the change of `metric` (its validation curve is val_<metric>)
    that matters (`margin`, in the metric's units, better in `direction`), and the loss of a constant
    prediction of the training targets (`constant_loss`: constant_loss(...)); None where unknown."""

    metric: str | None = None
    direction: str = "maximize"
    margin: float = 0.0
    constant_loss: float | None = None

    @property
    def loss_tolerance(self) -> float:
        return LOSS_TOLERANCE * self.constant_loss if self.constant_loss else 0.0


def constant_loss(loss: str, y: np.ndarray) -> float | None:
    """The loss (Keras's name) of the best constant prediction of targets `y`: the class frequencies (of each
    output position) for a cross-entropy, the mean for mse, the median for mae; None for another loss."""
    y = np.asarray(y, float)
    if loss == "categorical_crossentropy":  # each output position's own class frequencies
        freq = y.reshape(len(y), -1, y.shape[-1]).mean(axis=0)
        return float(-(freq * np.log(np.where(freq > 0, freq, 1.0))).sum(axis=-1).mean())
    if loss == "binary_crossentropy":
        p = np.clip(y.reshape(len(y), -1).mean(axis=0), 1e-7, 1 - 1e-7)
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    if loss == "mse":
        return float(np.mean((y - y.mean(axis=0)) ** 2))
    if loss == "mae":
        return float(np.mean(np.abs(y - np.median(y, axis=0))))
    return None


def seed_verdict(history: dict[str, Sequence[float]], scale: Scale = Scale()) -> Verdict:
    """Classify one seed's curves (loss, val_loss and val_<metric> per epoch) on `scale`."""
    train = np.asarray(history.get("loss", []), float)
    val = np.asarray(history.get("val_loss", []), float)
    if len(train) and scale.constant_loss and train[-1] > HIGH * scale.constant_loss:
        return Verdict(UNDERFIT, f"training loss {train[-1]:.3g} is high: {100 * train[-1] / scale.constant_loss:.0f}% "
                                 f"of a constant prediction's {scale.constant_loss:.3g}")
    if len(val) < 3:
        return Verdict(UNKNOWN, f"only {len(val)} epochs")
    if len(train) != len(val):
        return Verdict(UNKNOWN, f"{len(train)} training but {len(val)} validation losses")
    best = int(np.argmin(val))
    rise = val[-1] - val[best]
    if best < len(val) - 1 and rise > RISE * val[best] and rise > scale.loss_tolerance and train[-1] < train[best]:
        return Verdict(OVERFIT, f"validation loss rose {rise:.3g} ({100 * rise / max(val[best], 1e-12):.0f}%) after "
                                f"its minimum at epoch {best + 1} while the training loss fell to {train[-1]:.3g}")
    still = _still_improving(history, val, scale)
    if still:
        return Verdict(UNDERFIT, still)
    return Verdict(GOOD, f"validation loss settled (minimum {val[best]:.3g} at epoch {best + 1} of {len(val)})")


def _still_improving(history: dict[str, Sequence[float]], val: np.ndarray, scale: Scale) -> str | None:
    """Why the validation curve is still improving by an amount that matters over the last WINDOW epochs,
    or None: on val_<metric> against the margin when that curve is there, else on the loss."""
    window = min(WINDOW, len(val) - 1)
    curve = np.asarray(history.get(f"val_{scale.metric}", []), float) if scale.metric else np.array([])
    if len(curve) == len(val) and np.all(np.isfinite(curve[-window - 1:])):
        sign = 1.0 if scale.direction == "maximize" else -1.0
        gain = sign * (curve[-window:] - curve[-window - 1]).max()
        if gain > scale.margin:
            return (f"validation {scale.metric} still improving: {gain:.3g} over the last {window} epochs, more "
                    f"than the margin {scale.margin:.3g}")
        return None
    drop = val[-window - 1] - val[-window:].min()
    if drop > max(scale.loss_tolerance, RISE * val[-1]) and int(np.argmin(val)) >= len(val) - window:
        return f"validation loss still falling: {drop:.3g} over the last {window} epochs"
    return None


def overall_verdict(histories: Sequence[dict[str, Sequence[float]]],
                    scale: Scale = Scale()) -> tuple[Verdict, dict[str, int]]:
    """The majority verdict over seeds, with the count of each label."""
    verdicts = [seed_verdict(h, scale) for h in histories]
    counts = Counter(v.label for v in verdicts)
    label, n = counts.most_common(1)[0]
    example = next(v.reason for v in verdicts if v.label == label)
    return Verdict(label, f"{n}/{len(verdicts)} seeds; e.g. {example}; advice: {ADVICE[label]}"), dict(counts)
