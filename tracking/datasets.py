"""The data of a run as MLflow datasets: the one place a problem's splits become MLflow datasets.

Each split (train, validation, test) is one dataset, named `<problem>-<split>`, with a digest of its
arrays (features and targets, every byte), its source (the generator's recipe: problem, parameters,
sizes and seed; or the CSV file, with the file's MD5) and its schema and shape (MLflow's NumPy dataset).
They are computed once per process (`split_datasets`) and logged by value on each run, in the context
the run used them in: `tuning` (study and trial runs), `evaluation` (candidate runs), `refit` (the final
run, refit on train + validation). The values are plain JSON, so a trial's inputs wait in the outbox
like its other writes (tracking.outbox).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.data
import numpy as np
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from pipeline.problems import Problem, Splits
from pipeline.problems.data_spec import DataSpec

TRAINING, VALIDATION, TEST = "training", "validation", "test"  # the contexts MLflow shows beside a dataset
FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


@dataclass(frozen=True)
class SplitDatasets:
    """The three splits as MLflow dataset fields (name, digest, source_type, source, schema, profile)."""

    train: dict[str, str]
    validation: dict[str, str]
    test: dict[str, str]

    def tuning(self) -> list[dict[str, str]]:
        """A study's and a trial's inputs: fit on the training split, chosen on the validation split."""
        return [_input(self.train, TRAINING), _input(self.validation, VALIDATION)]

    def evaluation(self) -> list[dict[str, str]]:
        """A report candidate's inputs: trained and stopped as in tuning, scored on the test split."""
        return [*self.tuning(), _input(self.test, TEST)]

    def refit(self) -> list[dict[str, str]]:
        """The final run's inputs: refit on train + validation (both training data), scored on the test split."""
        return [_input(self.train, TRAINING), _input(self.validation, TRAINING), _input(self.test, TEST)]


def _input(dataset: dict[str, str], context: str) -> dict[str, str]:
    return {**dataset, "context": context}


def split_datasets(problem: Problem, data: DataSpec, splits: Splits) -> SplitDatasets:
    """The splits of `problem`'s data (described by `data`) as MLflow datasets; hashing the arrays once."""
    source, extra = _source(problem, data, splits)
    parts = {name: (x, y) for name, x, y in (("train", splits.x_train, splits.y_train),
                                             ("validation", splits.x_val, splits.y_val),
                                             ("test", splits.x_test, splits.y_test))}
    return SplitDatasets(**{name: _dataset(f"{problem.name}-{name}", x, y, source, extra)
                            for name, (x, y) in parts.items()})


def _dataset(name: str, x: np.ndarray, y: np.ndarray, source, extra: dict[str, Any]) -> dict[str, str]:
    entity = mlflow.data.from_numpy(x, source=source, targets=y, name=name, digest=digest(x, y))._to_mlflow_entity()
    fields = {field: getattr(entity, field) for field in FIELDS}
    fields["profile"] = json.dumps({**json.loads(fields["profile"] or "{}"), "rows": len(x), **extra})
    return fields


def _source(problem: Problem, data: DataSpec, splits: Splits) -> tuple[Any, dict[str, Any]]:
    """A CSV file (its path; its MD5 goes in the profile), else the generator's recipe as code tags."""
    path = problem.params.get("path")
    if path and Path(path).is_file():
        return LocalArtifactDatasetSource(str(Path(path).resolve())), {"file_md5": file_md5(Path(path))}
    recipe = {"generator": type(problem).__module__, "problem": problem.name,
              "params": json.dumps(problem.params, default=str, sort_keys=True),
              "seed": str(data.seed), "n_train": str(len(splits.x_train)), "n_val": str(len(splits.x_val)),
              "n_test": str(len(splits.x_test))}
    return CodeDatasetSource(recipe), {}


def digest(*arrays: np.ndarray) -> str:
    """The MD5 of the arrays' shapes, types and bytes, 8 hex digits as MLflow's own digests."""
    md5 = hashlib.md5()
    for array in arrays:
        array = np.asarray(array)
        md5.update(f"{array.shape}{array.dtype}".encode())
        md5.update(np.ascontiguousarray(array).tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return md5.hexdigest()[:8]


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            md5.update(block)
    return md5.hexdigest()


def dataset_inputs(inputs: list[dict[str, str]]) -> list[DatasetInput]:
    """MLflow's DatasetInput entities of `inputs` (dataset fields and a context each)."""
    return [DatasetInput(Dataset(**{field: item[field] for field in FIELDS}),
                         [InputTag(MLFLOW_DATASET_CONTEXT, item["context"])]) for item in inputs]
