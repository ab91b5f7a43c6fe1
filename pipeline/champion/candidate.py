"""A candidate: one configuration (architecture + hyperparameters) with its per-seed runs and test
scores; its key (what makes two configurations the same) and raw input examples for a packaged model."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.problems import Problem
from pipeline.training import SeedRun


@dataclass
class Candidate:
    name: str
    architecture: str
    hp: dict[str, Any]
    study: str | None = None
    trial: int | None = None
    tuning_value: float | None = None
    runs: list[SeedRun] = field(default_factory=list)
    test_scores: list[float] = field(default_factory=list)

    @property
    def n_params(self) -> int:
        return self.runs[0].n_params if self.runs else 0


def config_key(architecture: str, hp: dict[str, Any]) -> str:
    """The configuration as canonical JSON: equal keys, same configuration (the registry's "config" tag)."""
    return json.dumps([architecture, hp], sort_keys=True, default=str)


def raw_examples(problem: Problem, x: np.ndarray) -> list[str]:
    """Inputs as the strings a pyfunc caller sends (decoded text, or JSON for numeric inputs)."""
    return [v if isinstance(v, str) else json.dumps(np.asarray(v).tolist()) for v in problem.decode_x(x)]
