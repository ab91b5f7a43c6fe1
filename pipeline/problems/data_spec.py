"""DataSpec: which data a study was tuned on, as one typed record (study attr, registry tag, JSON)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipeline.problems.base import Problem, Splits

SIZE_KEYS = ("n_train", "n_val", "n_test")


@dataclass(frozen=True)
class DataSpec:
    """The problem's parameters, the sample counts and the generator seed (None: the data is a file)."""

    params: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    seed: int | None = 0

    @classmethod
    def from_options(cls, options: dict[str, str], seed: int | None = 0) -> DataSpec:
        """Split DATA="key=value ..." into sample counts (n_train, n_val, n_test) and problem parameters."""
        sizes = {k: int(v) for k, v in options.items() if k in SIZE_KEYS}
        return cls({k: v for k, v in options.items() if k not in SIZE_KEYS}, sizes, seed)

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "sizes": dict(self.sizes), "seed": self.seed}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSpec:
        seed = data.get("seed")
        return cls(dict(data.get("params") or {}), {k: int(v) for k, v in (data.get("sizes") or {}).items()},
                   None if seed in (None, "", "None") else int(seed))

    @classmethod
    def from_json(cls, text: str) -> DataSpec:
        return cls.from_dict(json.loads(text))

    def with_problem(self, problem: Problem) -> DataSpec:
        """The same counts and seed, with the problem's validated parameters (defaults filled in)."""
        return DataSpec(dict(problem.params), dict(self.sizes), self.seed)

    def splits(self, problem: Problem) -> Splits:
        return problem.splits(seed=self.seed or 0, **self.sizes)
