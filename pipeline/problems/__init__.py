"""Problem registry: name -> Problem class."""
from __future__ import annotations

from pipeline.errors import UsageError
from pipeline.problems.addition import Addition
from pipeline.problems.base import Problem, Splits
from pipeline.problems.csv_series import CsvSeries
from pipeline.problems.cumulative_sum import CumulativeSum
from pipeline.problems.damped_sine import DampedSine
from pipeline.problems.echo import Echo
from pipeline.problems.moving_square import MovingSquare
from pipeline.problems.recall import Recall
from pipeline.problems.shape_generation import ShapeGeneration

PROBLEMS: dict[str, type[Problem]] = {
    cls.name: cls
    for cls in (Echo, DampedSine, MovingSquare, Addition, CumulativeSum, ShapeGeneration, Recall, CsvSeries)
}


def get_problem(name: str, **params) -> Problem:
    """Instantiate a problem by name; unknown names give a UsageError listing the known ones."""
    try:
        cls = PROBLEMS[name]
    except KeyError:
        raise UsageError(f"unknown problem '{name}'; choose one of: {', '.join(PROBLEMS)}") from None
    return cls(**params)


def problem_from_state(state: dict) -> Problem:
    """Rebuild a problem (with its fitted preprocessing) from Problem.state()."""
    if state.get("name") not in PROBLEMS:
        raise UsageError(f"unknown problem in saved state: {state.get('name')!r}")
    return PROBLEMS[state["name"]].from_state(state)


__all__ = ["PROBLEMS", "Problem", "Splits", "get_problem", "problem_from_state"]
