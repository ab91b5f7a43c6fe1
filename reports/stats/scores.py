"""Scores as every rule reads them: the direction checked, oriented so that higher is better, and
diverged seeds filled in before any test sees them."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from reports.stats.render import fmt

DIRECTIONS = ("maximize", "minimize")


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def orient(values: np.ndarray, direction: str) -> np.ndarray:
    """Negated when minimising, so that tests and effect sizes always read "higher is better"."""
    return values if direction == "maximize" else -values


def mean(values: np.ndarray) -> float:
    """The mean, nan for no scores (numpy would warn)."""
    return float(values.mean()) if len(values) else math.nan


def fill_failed(scores: dict[str, Sequence[float]], direction: str) -> tuple[dict[str, list[float]], str]:
    """Seeds that diverged (nan) score the worst finite score of any candidate, so a candidate that fails
    is judged worse, never dropped (dropping would keep only its lucky seeds). Returns the scores and the
    rule sentence ("" when no seed failed)."""
    check_direction(direction)
    finite = [v for values in scores.values() for v in values if math.isfinite(v)]
    failed = {n: sum(not math.isfinite(v) for v in values) for n, values in scores.items()}
    if not any(failed.values()):
        return {n: [float(v) for v in values] for n, values in scores.items()}, ""
    if not finite:
        raise ValueError("every seed of every candidate diverged: nothing to compare")
    worst = min(finite) if direction == "maximize" else max(finite)
    filled = {n: [float(v) if math.isfinite(v) else worst for v in values] for n, values in scores.items()}
    listed = ", ".join(f"{n}: {k}" for n, k in failed.items() if k)
    return filled, f"diverged seeds ({listed}) scored the worst score of any run ({fmt(worst)})"
