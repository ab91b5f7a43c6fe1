"""The book's update candidates for a champion: the fair baseline (the champion trained the extra
epochs on old data), the champion trained on with new / old + new data, a new model of its
configuration, and one of a retuned configuration; and the registry record of the one that wins.

A candidate that continues the champion's weights is the champion's configuration trained on: its
record keeps that configuration and says separately how it was produced (candidate, extra epochs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.champion.candidate import config_key
from pipeline.champion.record import ChampionRecord
from pipeline.problems import Problem, Splits
from pipeline.problems.data_spec import DataSpec

BASELINE = "baseline (champion + extra epochs on old data)"
CONTINUE_NEW, CONTINUE_BOTH = "continue on new data", "continue on old + new data"
NEW_MODEL = "new model, champion's configuration, old + new data"
RETUNED = "new model, retuned configuration, old + new data"


@dataclass(frozen=True)
class Plan:
    """A retune candidate: the configuration it is (what the registry records), its training data, and
    for a candidate that continues training the champion's weights, its extra epochs."""

    config: dict[str, Any]
    train: tuple[np.ndarray, np.ndarray]
    extra_epochs: int | None = None  # None: a new model trained from scratch

    @property
    def warm(self) -> bool:
        return self.extra_epochs is not None

    @property
    def hp(self) -> dict[str, Any]:
        """What it trains with: its configuration, or the extra epochs without early stopping."""
        return self.config if not self.warm else {**self.config, "epochs": self.extra_epochs, "patience": 0}


def old_plus_new(old: Splits, new: Splits) -> Splits:
    """Old and new training data together, with the new validation and test data."""
    return Splits(np.concatenate([old.x_train, new.x_train]), np.concatenate([old.y_train, new.y_train]),
                  new.x_val, new.y_val, new.x_test, new.y_test)


def candidate_plans(architecture: str, hp: dict[str, Any], tuned_hp: dict[str, Any] | None, extra_epochs: int,
                    old: Splits, new: Splits, both: Splits) -> dict[str, Plan]:
    """The baseline and the candidates, by name; the retuned one only when its configuration differs."""
    plans = {BASELINE: Plan(hp, (old.x_train, old.y_train), extra_epochs),
             CONTINUE_NEW: Plan(hp, (new.x_train, new.y_train), extra_epochs),
             CONTINUE_BOTH: Plan(hp, (both.x_train, both.y_train), extra_epochs),
             NEW_MODEL: Plan(hp, (both.x_train, both.y_train))}
    if tuned_hp is not None and config_key(architecture, tuned_hp) != config_key(architecture, hp):
        plans[RETUNED] = Plan(tuned_hp, (both.x_train, both.y_train))
    return plans


@dataclass(frozen=True)
class Evidence:
    """The retune winner's test scores over the retune's seeds (a failed seed filled in), and its p-value
    against the fair baseline (Holm)."""

    scores: list[float]
    seeds: list[int]
    p_value: float


def winner_record(name: str, plan: Plan, architecture: str, problem: Problem, evidence: Evidence, data: DataSpec,
                  run_id: str, champion_version: str) -> ChampionRecord:
    """The registry record of the retune's winner: its configuration, and separately how it was produced."""
    return ChampionRecord(architecture, plan.config, problem.metric, problem.direction, evidence.scores,
                          evidence.seeds, data, retune_run=run_id, candidate=name, extra_epochs=plan.extra_epochs,
                          vs_champion=champion_version, vs_baseline_p=evidence.p_value)
