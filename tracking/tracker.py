"""MLflow runs for studies, trials and seeds, through MlflowClient (explicit run ids, no global
active-run state, so several processes can log under one parent run)."""
from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator

import mlflow
import numpy as np
from mlflow.entities import Metric, Param, RunTag
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from tracking.datasets import dataset_inputs

for _name in ("mlflow", "alembic", "urllib3"):
    logging.getLogger(_name).setLevel(logging.ERROR)

# Run roles, stored in the "role" tag.
STUDY, TRIAL, SEED = "study", "trial", "seed"
# What MLflow 3's UI opens an experiment on: the training runs (not the GenAI overview of traces).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
_MAX_BATCH = 1000


def _pins(*names: str) -> list[str]:
    """name==version of the installed distributions (pyproject.toml pins them; this reads what it installed)."""
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


# What a logged model needs to load: TensorFlow (the CPU build where that is what is installed), Keras, NumPy.
PIP_REQUIREMENTS = _pins("tensorflow-cpu" if _pins("tensorflow-cpu") else "tensorflow", "keras", "numpy")


def mask_credentials(url: str | None) -> str | None:
    """Hide the password of a URL such as postgresql://user:secret@host/db."""
    if not url:
        return url
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def ending(exc: BaseException) -> tuple[str, dict[str, str]]:
    """How a run cut short by `exc` ends: KILLED on Ctrl-C, else FAILED; tagged with the reason (the
    exception's type and the first line of its message)."""
    lines = str(exc).strip().splitlines()
    reason = f"{type(exc).__name__}: {lines[0]}"[:500] if lines else type(exc).__name__
    return "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED", {"reason": reason}


class Tracker:
    """Logs to one MLflow tracking URI; `artifact_root` is used when experiments are created."""

    def __init__(self, uri: str, artifact_root: str | None = None) -> None:
        self.uri = uri
        self.artifact_root = artifact_root
        self.outbox = Path("runs") / "outbox"  # where trial logging waits out an outage (tracking.outbox)
        mlflow.set_tracking_uri(uri)
        self.client = MlflowClient(uri)

    @classmethod
    def embedded(cls, runs_dir: Path) -> "Tracker":
        """SQLite backend and local artifact folder under runs_dir (no server needed)."""
        runs_dir = Path(runs_dir).resolve()
        runs_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{runs_dir / 'mlflow.db'}", (runs_dir / "mlartifacts").as_uri())

    # -- experiments and runs ------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        """The id of experiment `name`, created (with this tracker's artifact root) if missing; tagged as
        model training (EXPERIMENT_KIND) when created, or when found without a kind."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            if EXPERIMENT_KIND[0] not in exp.tags:
                self.client.set_experiment_tag(exp.experiment_id, *EXPERIMENT_KIND)
            return exp.experiment_id
        location = f"{self.artifact_root}/{name}" if self.artifact_root else None
        try:
            return self.client.create_experiment(name, artifact_location=location, tags=dict([EXPERIMENT_KIND]))
        except mlflow.exceptions.MlflowException:  # created meanwhile by another worker
            return self.client.get_experiment_by_name(name).experiment_id

    def start_run(self, experiment_id: str, name: str, role: str, parent_id: str | None = None,
                  tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                  inputs: list[dict[str, str]] | None = None) -> str:
        """Create a run (nested under parent_id when given), with its params and its datasets
        (tracking.datasets), and return its id."""
        all_tags = {"role": role, "git_commit": git_commit(), **(tags or {})}
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(experiment_id, run_name=name,
                                     tags={k: str(v) for k, v in all_tags.items()})
        if params:
            self.log_params(run.info.run_id, params)
        if inputs:
            self.log_inputs(run.info.run_id, inputs)
        return run.info.run_id

    @contextmanager
    def run(self, experiment_id: str, name: str, role: str, parent_id: str | None = None,
            tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
            inputs: list[dict[str, str]] | None = None) -> Iterator[str]:
        """A run (as start_run makes it) for the block, whose id it gives: ended FINISHED when the block
        returns, KILLED on Ctrl-C and FAILED on any other exception, with the reason, which goes on up."""
        run_id = self.start_run(experiment_id, name, role, parent_id, tags=tags, params=params, inputs=inputs)
        try:
            yield run_id
        except BaseException as exc:
            self.end_run(run_id, *ending(exc))
            raise
        self.end_run(run_id)

    def run_exists(self, run_id: str | None) -> bool:
        if not run_id:
            return False
        try:
            return self.client.get_run(run_id).info.lifecycle_stage == "active"
        except mlflow.exceptions.MlflowException:
            return False

    def find_run(self, experiment_id: str, parent_id: str, tags: dict[str, Any]) -> str | None:
        """The id of an active run under parent_id with these tag values (a replay's way to find what
        an interrupted write made), or None."""
        query = " and ".join([f"tags.mlflow.parentRunId = '{parent_id}'"]
                             + [f"tags.{k} = '{v}'" for k, v in tags.items()])
        runs = self.client.search_runs([experiment_id], query, max_results=1, order_by=["start_time ASC"])
        return runs[0].info.run_id if runs else None

    def run_status(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.status

    def reopen(self, run_id: str) -> None:
        """Mark an existing run running again (a resumed study)."""
        self.client.update_run(run_id, status="RUNNING")

    def end_run(self, run_id: str, status: str = "FINISHED", tags: dict[str, Any] | None = None) -> None:
        """Finish a run: FINISHED, FAILED or KILLED, with optional tags (e.g. the reason)."""
        if tags:
            self.set_tags(run_id, tags)
        self.client.set_terminated(run_id, status=status)

    def children(self, experiment_id: str, parent_id: str, role: str | None = None,
                 status: str | None = None) -> list:
        """Runs nested directly under parent_id."""
        query = f"tags.mlflow.parentRunId = '{parent_id}'"
        if role:
            query += f" and tags.role = '{role}'"
        if status:
            query += f" and attributes.status = '{status}'"
        return self.client.search_runs([experiment_id], query, max_results=50000)

    # -- logging ---------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i:i + 100])

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(str(k), str(v)[:5000]) for k, v in tags.items()])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None]
        self._log_metric_items(run_id, items)

    def log_metric_rows(self, run_id: str, rows: Iterable[tuple[str, float, int, int]]) -> None:
        """(name, value, timestamp ms, step) rows, as recorded: logging them again adds nothing."""
        self._log_metric_items(run_id, [Metric(k, float(v), int(ts), int(step)) for k, v, ts, step in rows])

    def _log_metric_items(self, run_id: str, items: list[Metric]) -> None:
        for i in range(0, len(items), _MAX_BATCH):
            self.client.log_batch(run_id, metrics=items[i:i + _MAX_BATCH])

    def log_inputs(self, run_id: str, inputs: list[dict[str, str]]) -> None:
        """Datasets the run used, each in its context (tracking.datasets); logging one again adds nothing."""
        self.client.log_inputs(run_id, dataset_inputs(inputs))

    def log_model_metrics(self, run_id: str, model_uri: str, metrics: dict[str, float],
                          dataset: dict[str, str]) -> None:
        """Metrics of a logged model (models:/<model id>) on a dataset: MLflow 3's model page shows them beside it."""
        model_id = model_uri.rsplit("/", 1)[-1]
        for key, value in metrics.items():
            self.client.log_metric(run_id, key, float(value), dataset_name=dataset["name"],
                                   dataset_digest=dataset["digest"], model_id=model_id)

    def share_view(self, experiment_id: str, key: str, state: dict[str, Any]) -> None:
        """A saved view of the experiment's runs page (filter, grouping, charts), opened by ?viewStateShareKey=key."""
        self.client.set_experiment_tag(experiment_id, f"mlflow.sharedViewState.{key}", json.dumps(state))

    def log_figure(self, run_id: str, figure, path: str) -> None:
        self.client.log_figure(run_id, figure, path)

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_dict(self, run_id: str, data: dict, path: str) -> None:
        self.client.log_dict(run_id, data, path)

    def log_losses(self, run_id: str, losses, seeds: list[int], path: str = "test_losses.npz") -> None:
        """Per-item test losses, seeds x items (float32, compressed), with their seeds: the evidence every claim
        about new data was tested on, kept beside the run (numpy.load(...)["losses"])."""
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / path
            np.savez_compressed(local, losses=np.asarray(losses, np.float32), seeds=np.asarray(seeds))
            self.client.log_artifact(run_id, str(local))

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(local_path), artifact_path)

    def log_artifacts(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
        """A file, or a folder's files, as artifacts of run_id."""
        if Path(local_path).is_dir():
            self.client.log_artifacts(run_id, str(local_path), artifact_path)
        else:
            self.client.log_artifact(run_id, str(local_path), artifact_path)

    @staticmethod
    def save_keras_model(model, path: Path, input_example=None) -> None:
        """A Keras model in MLflow's model format in a local folder (logged later with log_artifacts)."""
        signature = None if input_example is None else infer_signature(
            input_example, model.predict(input_example, verbose=0))
        mlflow.keras.save_model(model, str(path), pip_requirements=PIP_REQUIREMENTS, signature=signature)

    def log_keras_model(self, run_id: str, model, name: str = "model", input_example=None) -> str:
        """Log a Keras model (native format) in MLflow's model format; returns its models:/ URI.
        mlflow 3.17's keras flavour fails to write input_example.json (its folder is made later): the
        signature is logged here, and the caller logs `example_json(input_example)` beside the model."""
        signature = None if input_example is None else infer_signature(
            input_example, model.predict(input_example, verbose=0))
        with self.active(run_id):
            info = mlflow.keras.log_model(model, name=name, pip_requirements=PIP_REQUIREMENTS, signature=signature)
        return info.model_uri

    @staticmethod
    def example_json(input_example) -> str:
        """An input example as the JSON logged beside a model (`<name>_input_example.json`)."""
        return json.dumps({"inputs": input_example.tolist()})

    @contextmanager
    def active(self, run_id: str) -> Iterator[None]:
        """Make run_id MLflow's active run for a fluent call (log_model); it stays RUNNING after."""
        with mlflow.start_run(run_id=run_id):
            yield
        self.reopen(run_id)

    # -- reading back (for the stages: no MLflow client outside tracking/) ----------------
    def find_experiment(self, name: str) -> str | None:
        """The id of experiment `name`, or None when there is none (nothing is created)."""
        exp = self.client.get_experiment_by_name(name)
        return None if exp is None else exp.experiment_id

    def runs(self, experiment_id: str, role: str, order_by: list[str] | None = None) -> list:
        """The runs of an experiment with the given role tag (e.g. every retune), in `order_by` order."""
        return self.client.search_runs([experiment_id], f"tags.role = '{role}'", max_results=50000,
                                       order_by=order_by)
