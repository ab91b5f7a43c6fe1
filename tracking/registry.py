"""MLflow Model Registry: versions of `lstm-<problem>` and the champion / challenger / previous aliases."""
from __future__ import annotations

import json
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from tracking.names import CHALLENGER, CHAMPION, PREVIOUS, model_name

__all__ = ["CHALLENGER", "CHAMPION", "PREVIOUS", "Registry", "alias_uri", "load_model", "model_name"]


def alias_uri(name: str, alias: str) -> str:
    """The models:/ URI of the version an alias points at, e.g. models:/lstm-addition@champion."""
    return f"models:/{name}@{alias}"


def version_uri(name: str, version: str | int) -> str:
    """The models:/ URI of one version, e.g. models:/lstm-addition/3 (does not follow aliases)."""
    return f"models:/{name}/{version}"


class Registry:
    """Registered versions and aliases of one tracking server (a Tracker's client)."""

    def __init__(self, tracker) -> None:
        self.client = tracker.client

    def register(self, name: str, model_uri: str, run_id: str, tags: dict[str, Any]) -> ModelVersion:
        """A new version of `name` from a logged model, tagged (study, trial, scores, report run). A model of
        MLflow 3 (models:/m-...) is linked both ways, as mlflow.register_model links it: the version's source
        (and model_id, where the registry keeps one) names the model (its metrics on its datasets, its source
        run and that run's datasets), and the model's tag mlflow.modelVersions its versions."""
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name, description="LSTM tuned and finalized by lstm-tune")
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        version = self.client.create_model_version(name, model_uri, run_id=run_id, model_id=model_id,
                                                   tags={k: str(v)[:5000] for k, v in tags.items()})
        if model_id:
            linked = json.loads(self.client.get_logged_model(model_id).tags.get(MLFLOW_MODEL_VERSIONS, "[]"))
            self.client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(
                linked + [{"name": name, "version": version.version}])})
        return version

    def find_version(self, name: str, tag: str, value: str) -> ModelVersion | None:
        """The oldest version of `name` whose tag `tag` is `value`, or None."""
        found = [v for v in self.versions(name) if v.tags.get(tag) == value]
        return found[-1] if found else None

    def alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version an alias points at, or None."""
        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def promote(self, name: str, version: str | int) -> None:
        """Make `version` the champion; the old champion becomes `previous` (one-command rollback)."""
        old = self.alias(name, CHAMPION)
        if old is not None and str(old.version) != str(version):
            self.set_alias(name, PREVIOUS, old.version)
        self.set_alias(name, CHAMPION, version)

    def versions(self, name: str) -> list[ModelVersion]:
        """All versions, newest first, each with its aliases filled in."""
        try:
            found = self.client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            return []
        full = [self.client.get_model_version(name, v.version) for v in found]
        return sorted(full, key=lambda v: int(v.version), reverse=True)

    def set_version_tags(self, name: str, version: str | int, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, str(value)[:5000])


def load_model(uri: str):
    """Load a registered model (pyfunc) by URI, e.g. models:/lstm-addition@champion."""
    return mlflow.pyfunc.load_model(uri)
