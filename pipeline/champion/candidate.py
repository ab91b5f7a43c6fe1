"""A candidate: one configuration (architecture + hyperparameters) with its per-seed runs and test
scores; its key (what makes two configurations the same) and raw input examples for a packaged model."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from pipeline.problems import Problem
from pipeline.training.one_seed import SeedRun
from reports.stats import Items


@dataclass
class Candidate:
    name: str
    architecture: str
    hp: dict[str, Any]
    study: str | None = None
    trial: int | None = None
    tuning_value: float | None = None
    runs: list[SeedRun] = field(default_factory=list)
    test_scores: list[float] = field(default_factory=list)  # nan for a seed that diverged
    test_metrics: list[dict[str, float]] = field(default_factory=list)  # every test metric of each trained seed
    test_forecasts: list[np.ndarray] = field(default_factory=list)  # forecasting problems: each seed's, in units
    test_losses: list[np.ndarray] = field(default_factory=list)  # each seed's per-item test losses (nan: diverged)
    champion: str | None = None  # the registry version this configuration is champion as, if it is
    trial_run: str | None = None  # the MLflow run of the tuning trial it comes from, if any
    # How a retune's candidate trains unlike the report's (pipeline.report.candidates.evaluate_candidates):
    train: tuple[np.ndarray, np.ndarray] | None = None  # its own training data (None: the splits' training part)
    initial_weights: list[np.ndarray] | None = None  # weights it goes on training from (None: a new model)
    model: Any = None  # its first trained seed's model, when the re-evaluation keeps it

    @property
    def n_params(self) -> int:
        return next((r.n_params for r in self.runs if not r.failure), 0)

    @property
    def losses(self) -> np.ndarray:
        """Seeds x test items: the per-item losses every claim about new data is tested on."""
        return np.vstack(self.test_losses)

    @property
    def validation_scores(self) -> list[float]:
        """Each seed's validation score (nan for a diverged one): what chooses the best candidate."""
        return [math.nan if r.failure or r.score is None else float(r.score) for r in self.runs]

    @property
    def failures(self) -> list[str]:
        """Why each diverged seed failed ("seed 7: loss became nan at epoch 3")."""
        return [f"seed {r.seed}: {r.failure}" for r in self.runs if r.failure]


def claims(problem: Problem, candidates: Sequence[Candidate], margin: float | None = None,
           seeds: slice = slice(None)) -> Items:
    """The candidates' per-item test losses (on `seeds`) as every claim about new data reads them: their
    margin as a margin of the mean item loss (near the best candidate's mean score), and, for a forecast,
    the items are consecutive windows (a HAC variance over them, at least horizon - 1 lags)."""
    losses = {c.name: c.losses[seeds] for c in candidates}
    loss_margin = None
    if margin is not None:
        means = [float(np.nanmean(c.test_scores)) for c in candidates]
        loss_margin = problem.loss_margin(margin, max(means) if problem.direction == "maximize" else min(means))
    return Items(losses, loss_margin, problem.forecasts, int(problem.params.get("horizon", 1)))


def config_key(architecture: str, hp: dict[str, Any]) -> str:
    """The configuration as canonical JSON: equal keys, same configuration (the registry's "config" tag)."""
    return json.dumps([architecture, hp], sort_keys=True, default=str)


def raw_examples(problem: Problem, x: np.ndarray) -> list[str]:
    """Inputs as the strings a pyfunc caller sends (decoded text, or JSON for numeric inputs)."""
    return [v if isinstance(v, str) else json.dumps(np.asarray(v).tolist()) for v in problem.decode_x(x)]
