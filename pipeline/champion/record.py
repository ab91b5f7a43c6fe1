"""The registry record of a model version, as one typed record: written as the version's tags and read
back from them. The tag keys are those earlier registries used, so their versions still read.

`hp` is the configuration the version was tuned and trained with; how this version was produced is
said separately: a report (study, trial, rule) or a retune candidate (`candidate`, and `extra_epochs`
when it continued training an earlier champion's weights for that many epochs). A report's version also
says which model it is (`model_kind`: an ensemble of the final refit's seed models, or one of them), its
own test score (`model_test`) and, beside it, the ensemble's and each seed model's (pipeline.champion.ensemble)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from pipeline.champion.candidate import config_key
from pipeline.problems.data_spec import DataSpec

BOOK_REFERENCE = "book reference"  # study of a candidate that is the book's configuration
DECISION, ROLLED_BACK = "decision", "rolled_back"  # tags set after registration


@dataclass(frozen=True)
class ChampionRecord:
    architecture: str
    hp: dict[str, Any]
    metric: str
    direction: str
    test_scores: list[float]
    seeds: list[int]
    data: DataSpec = field(default_factory=DataSpec)
    study: str | None = None  # report: where the configuration was found
    trial: int | None = None
    report_run: str | None = None
    rule: str | None = None  # report: the statistical rule that chose the winner
    retune_run: str | None = None
    candidate: str | None = None  # retune: which candidate won, e.g. "continue on new data"
    extra_epochs: int | None = None  # retune: epochs trained on from the previous champion's weights
    vs_champion: str | None = None  # the champion this version was compared with
    vs_champion_p: float | None = None
    vs_baseline_p: float | None = None
    decision: str | None = None
    model_kind: str | None = None  # the registered model: "ensemble of 5 seeds" or "single seed 100000"
    model_test: float | None = None  # the registered model's own test score
    ensemble_test: float | None = None  # the final refit's ensemble and each seed model, side by side
    final_seeds: list[int] | None = None
    seed_tests: list[float] | None = None
    ensemble_rule: str | None = None  # the sentence that chose between the ensemble and a single seed

    @property
    def config(self) -> str:
        return config_key(self.architecture, self.hp)

    @property
    def test_mean(self) -> float | None:
        return float(np.mean(self.test_scores)) if self.test_scores else None

    @property
    def test_std(self) -> float | None:
        return float(np.std(self.test_scores, ddof=1)) if len(self.test_scores) > 1 else None

    def to_tags(self) -> dict[str, str]:
        """The version's tags (fields that are None are left out)."""
        tags = {"architecture": self.architecture, "config": self.config, "metric": self.metric,
                "direction": self.direction, "test_scores": json.dumps(self.test_scores),
                "seeds": json.dumps(self.seeds), "test_mean": self.test_mean, "test_std": self.test_std,
                "data": self.data.to_json()}
        optional = {key: getattr(self, key) for key in _OPTIONAL}
        tags |= {key: json.dumps(v) if isinstance(v, list) else v for key, v in optional.items()}
        return {key: str(value) for key, value in tags.items() if value is not None}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> ChampionRecord:
        """The record of a version's tags; missing tags read as empty (a version registered by hand)."""
        architecture, hp = json.loads(tags["config"]) if "config" in tags else (tags.get("architecture", ""), {})
        data = DataSpec.from_json(tags["data"]) if "data" in tags else DataSpec()
        optional = {key: convert(tags[key]) for key, convert in _OPTIONAL.items()
                    if tags.get(key) not in (None, "", "None")}
        return cls(architecture, hp, tags.get("metric", ""), tags.get("direction", ""),
                   json.loads(tags.get("test_scores", "[]")), json.loads(tags.get("seeds", "[]")), data, **optional)


# Optional fields: tag key -> how its text reads back.
_OPTIONAL: dict[str, Callable[[str], Any]] = {
    "study": str, "trial": int, "report_run": str, "rule": str, "retune_run": str, "candidate": str,
    "extra_epochs": int, "vs_champion": str, "vs_champion_p": float, "vs_baseline_p": float, DECISION: str,
    "model_kind": str, "model_test": float, "ensemble_test": float, "final_seeds": json.loads, "seed_tests": json.loads,
    "ensemble_rule": str}
