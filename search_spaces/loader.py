"""Load and validate a search-space YAML file; turn it into Optuna `trial.suggest_*` calls.

File layout::

    extends: common            # optional: a file in the same folder whose params come first
    params:
      units: {type: int, low: 16, high: 256, log: true}
      optimizer: {type: categorical, choices: [adam, rmsprop]}
      epochs: 20               # a plain value is fixed, not searched
    problems:                  # optional per-problem overrides, merged over params
      addition: {epochs: 30}
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.architectures.common import HP_DEFAULTS, check_value
from pipeline.errors import UsageError
from search_spaces import SPACES_DIR

TOP_KEYS = {"extends", "params", "problems", "description"}
SPEC_KEYS = {"int": {"type", "low", "high", "step", "log"},
             "float": {"type", "low", "high", "step", "log"},
             "categorical": {"type", "choices"}}


@dataclass
class SearchSpace:
    """A validated search space: each hyperparameter is a spec dict (searched) or a fixed value."""

    architecture: str
    problem: str
    source: str
    params: dict[str, Any]

    def suggest(self, trial) -> dict[str, Any]:
        """Ask the trial for every searched hyperparameter; fixed ones are passed through."""
        hp = {}
        for name, spec in self.params.items():
            if not isinstance(spec, dict):
                hp[name] = spec
            elif spec["type"] == "categorical":
                hp[name] = trial.suggest_categorical(name, spec["choices"])
            else:
                suggest = trial.suggest_int if spec["type"] == "int" else trial.suggest_float
                kwargs = {"log": spec.get("log", False)}
                if "step" in spec:
                    kwargs["step"] = spec["step"]
                hp[name] = suggest(name, spec["low"], spec["high"], **kwargs)
        return hp

    def fixed(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if not isinstance(v, dict)}

    def searched(self) -> dict[str, dict]:
        return {k: v for k, v in self.params.items() if isinstance(v, dict)}

    def max_value(self, name: str) -> Any:
        """The largest value a hyperparameter can take (e.g. epochs, for pruning step offsets)."""
        spec = self.params.get(name, HP_DEFAULTS[name])
        if not isinstance(spec, dict):
            return spec
        return max(spec["choices"]) if spec["type"] == "categorical" else spec["high"]

    def restrict(self, hp: dict[str, Any]) -> dict[str, Any]:
        """The searched keys of hp that this space holds (e.g. a reference config to enqueue)."""
        return {k: v for k, v in hp.items() if k in self.searched()}

    def outside(self, hp: dict[str, Any]) -> list[str]:
        """Searched keys of hp whose value this space cannot produce."""
        bad = []
        for name, value in self.restrict(hp).items():
            spec = self.params[name]
            if spec["type"] == "categorical":
                ok = value in spec["choices"]
            else:
                ok = spec["low"] <= value <= spec["high"]
            if not ok:
                bad.append(f"{name}={value!r}")
        return bad

    def fingerprint(self) -> str:
        """A short hash of the resolved space, to detect a changed space on resume."""
        return hashlib.sha1(json.dumps(self.params, sort_keys=True, default=str).encode()).hexdigest()[:12]


def space_path(architecture: str, path: str | Path | None = None) -> Path:
    """The YAML file for an architecture: the user's file or the built-in one."""
    if path is not None:
        return Path(path)
    return SPACES_DIR / f"{architecture}.yaml"


def load_space(architecture: str, problem: str, path: str | Path | None = None) -> SearchSpace:
    """Load, merge (extends, per-problem overrides) and validate a search space."""
    file = space_path(architecture, path)
    params = _load_params(file, problem, seen=())
    return SearchSpace(architecture=architecture, problem=problem, source=str(file), params=params)


def _read(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise UsageError(f"search space file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{file}: not valid YAML{where}: {reason}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{file}: expected a mapping with keys {', '.join(sorted(TOP_KEYS))}")
    unknown = sorted(set(map(str, data)) - TOP_KEYS)
    if unknown:
        raise UsageError(f"{file}: unknown key {', '.join(unknown)}; allowed: {', '.join(sorted(TOP_KEYS))}")
    return data


def _load_params(file: Path, problem: str, seen: tuple[Path, ...]) -> dict[str, Any]:
    if file.resolve() in seen:
        raise UsageError(f"{file}: 'extends' forms a cycle")
    data = _read(file)
    params: dict[str, Any] = {}
    base = data.get("extends")
    if base is not None:
        if not isinstance(base, str):
            raise UsageError(f"{file}: extends: expected a file name, got {base!r}")
        candidates = [file.parent / f"{base}.yaml", SPACES_DIR / f"{base}.yaml"]
        target = next((c for c in candidates if c.is_file()), candidates[0])
        params.update(_load_params(target, problem, seen + (file.resolve(),)))
    own = data.get("params") or {}
    if not isinstance(own, dict):
        raise UsageError(f"{file}: params: expected a mapping of hyperparameter -> spec or value")
    overrides = data.get("problems") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise UsageError(f"{file}: problems: expected a mapping of problem -> {{hyperparameter: spec}}")
    params.update({k: _validate(file, f"params.{k}", k, v) for k, v in own.items()})
    params.update({k: _validate(file, f"problems.{problem}.{k}", k, v)
                   for k, v in (overrides.get(problem) or {}).items()})
    return params


def _validate(file: Path, where: str, name: Any, spec: Any) -> Any:
    """Check one entry; return it normalised. Errors name the file, the key and what is allowed."""
    def fail(message: str) -> UsageError:
        return UsageError(f"{file}: {where}: {message}")

    if name not in HP_DEFAULTS:
        raise fail(f"unknown hyperparameter; allowed: {', '.join(HP_DEFAULTS)}")
    if not isinstance(spec, dict):
        return _checked(fail, name, spec)
    kind = spec.get("type")
    if kind not in SPEC_KEYS:
        raise fail(f"type must be one of {', '.join(SPEC_KEYS)} (got {kind!r})")
    extra = sorted(set(spec) - SPEC_KEYS[kind])
    if extra:
        raise fail(f"unknown key {', '.join(extra)} for type {kind}; allowed: {', '.join(sorted(SPEC_KEYS[kind]))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise fail("choices must be a non-empty list")
        return {"type": kind, "choices": [_checked(fail, name, c) for c in choices]}
    if "low" not in spec or "high" not in spec:
        raise fail(f"type {kind} needs low and high")
    low, high = (_checked(fail, name, spec[k]) for k in ("low", "high"))
    number = int if kind == "int" else float
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (low, high)):
        raise fail(f"low and high must be numbers (got {low!r}, {high!r})")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise fail(f"low and high must be integers for type int (got {low!r}, {high!r})")
    if low > high:
        raise fail(f"empty range: low ({low}) is above high ({high})")
    out = {"type": kind, "low": number(low), "high": number(high)}
    if spec.get("log"):
        if spec.get("step") is not None:
            raise fail("log and step cannot be combined")
        if low <= 0:
            raise fail(f"log scale needs low > 0 (got {low})")
        out["log"] = True
    if spec.get("step") is not None:
        step = spec["step"]
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise fail(f"step must be a positive number (got {step!r})")
        out["step"] = number(step)
    return out


def _checked(fail, name: str, value: Any) -> Any:
    if isinstance(value, str) and HP_DEFAULTS[name] is not None and not isinstance(HP_DEFAULTS[name], str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            value = float(value)
        except ValueError:
            pass
    try:
        return check_value(name, value)
    except UsageError as exc:
        raise fail(str(exc).replace(f"hyperparameter {name}=", "value ")) from None
