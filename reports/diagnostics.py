"""Under/over-fit verdicts from learning curves (the book's diagnostic rules), per seed and overall."""
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


@dataclass
class Verdict:
    label: str
    reason: str


def seed_verdict(history: dict[str, Sequence[float]], rise: float = 0.10, still_falling: float = 0.02,
                 flat: float = 0.9) -> Verdict:
    """Classify one seed's curves.

    overfit: validation loss ends more than `rise` above its minimum, reached before the end;
    underfit: validation loss still falling by more than `still_falling` over the last epochs, or
    training loss ending above `flat` of where it started (flat and high); otherwise good fit.
    """
    train = np.asarray(history.get("loss", []), float)
    val = np.asarray(history.get("val_loss", []), float)
    if len(val) < 3:
        return Verdict(UNKNOWN, f"only {len(val)} epochs")
    best = int(np.argmin(val))
    if best < len(val) - 1 and val[-1] > val[best] * (1 + rise) + 1e-12:
        return Verdict(OVERFIT, f"validation loss rose {100 * (val[-1] / val[best] - 1):.0f}% after its "
                                f"minimum at epoch {best + 1}")
    window = min(3, len(val) - 1)
    drop = (val[-window - 1] - val[-1]) / max(abs(val[-window - 1]), 1e-12)
    if best == len(val) - 1 and drop > still_falling:
        return Verdict(UNDERFIT, f"validation loss still falling ({100 * drop:.0f}% over the last {window} epochs)")
    if train[-1] > flat * train[0]:
        return Verdict(UNDERFIT, "training loss flat and high")
    return Verdict(GOOD, f"validation loss settled (minimum at epoch {best + 1} of {len(val)})")


def overall_verdict(histories: Sequence[dict[str, Sequence[float]]]) -> tuple[Verdict, dict[str, int]]:
    """The majority verdict over seeds, with the count of each label."""
    verdicts = [seed_verdict(h) for h in histories]
    counts = Counter(v.label for v in verdicts)
    label, n = counts.most_common(1)[0]
    example = next(v.reason for v in verdicts if v.label == label)
    return Verdict(label, f"{n}/{len(verdicts)} seeds; e.g. {example}; advice: {ADVICE[label]}"), dict(counts)
