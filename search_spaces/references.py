"""The references: which architecture fits which problem, and each problem's book configuration.

The one declaration is search_spaces/references.yaml; every stage reads it through this module.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from pipeline.architectures import ARCHITECTURES, HP_DEFAULTS, check_architecture
from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS
from search_spaces import SPACES_DIR

REFERENCES_FILE = SPACES_DIR / "references.yaml"


@lru_cache(maxsize=1)
def _references() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(REFERENCES_FILE.read_text())
    for problem, entry in data.items():
        if problem not in PROBLEMS:
            raise UsageError(f"{REFERENCES_FILE}: unknown problem '{problem}'")
        for arch in entry["architectures"]:
            check_architecture(arch)
        if entry["native"] not in entry["architectures"]:
            raise UsageError(f"{REFERENCES_FILE}: {problem}: native '{entry['native']}' is not in its architectures")
    return data


def _entry(problem: str) -> dict[str, Any]:
    refs = _references()
    if problem not in refs:
        raise UsageError(f"unknown problem '{problem}'; choose one of: {', '.join(refs)}")
    return refs[problem]


def architectures_for(problem: str) -> list[str]:
    """Valid architectures of a problem, the native one first."""
    return list(_entry(problem)["architectures"])


def native(problem: str) -> str:
    return _entry(problem)["native"]


def check_pair(problem: str, architecture: str) -> None:
    """Raise a UsageError naming the valid architectures when the pair is not declared."""
    check_architecture(architecture)
    valid = architectures_for(problem)
    if architecture not in valid:
        raise UsageError(f"architecture '{architecture}' is not paired with problem '{problem}'; "
                         f"valid: {', '.join(valid)}")


def resolve_architectures(problem: str, arch: str | None) -> list[str]:
    """'all'/None -> every valid architecture; a name (or comma list) -> checked pairs."""
    if arch in (None, "", "all"):
        return architectures_for(problem)
    names = [a.strip() for a in arch.split(",") if a.strip()]
    for name in names:
        check_pair(problem, name)
    return names


def reference_hp(problem: str) -> dict[str, Any]:
    """The book's configuration of the problem's native pair, every hyperparameter filled in (as trials
    fill them: decoder_units None means as many as units)."""
    return {**HP_DEFAULTS, **_entry(problem)["reference"]["hp"]}


def reference_params(problem: str, space) -> dict[str, Any]:
    """The book's configuration as values of this space's searched keys (clamped into ranges)."""
    params, hp = {}, reference_hp(problem)
    if hp["decoder_units"] is None:  # a space that searches it: None means as many as the encoder's units
        hp["decoder_units"] = hp["units"]
    for name, value in space.restrict(hp).items():
        spec = space.params[name]
        if spec["type"] == "categorical":
            if value in spec["choices"]:
                params[name] = value
        else:
            params[name] = min(max(value, spec["low"]), spec["high"])
    return params


def reference_config(problem: str, space) -> dict[str, Any]:
    """The full hyperparameters of the book's configuration as this space's study trains it."""
    return {**reference_hp(problem), **space.fixed(), **reference_params(problem, space)}


def book(problem: str) -> dict[str, Any]:
    """The book's training size and reported result for the native pair."""
    return dict(_entry(problem)["reference"]["book"])


__all__ = ["ARCHITECTURES", "architectures_for", "book", "check_pair", "native", "reference_config", "reference_hp",
           "reference_params", "resolve_architectures"]
