"""A finalized model as an MLflow pyfunc: the Keras model plus its problem's preprocessing, so a
prediction on raw input (e.g. ' 9+6+9') needs nothing else; tracking.serving (and `mlflow models serve`)
serve it. A batch with invalid rows is refused whole, every invalid row named (InvalidInput: a 400 over
HTTP, one line on the command line)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from pipeline.errors import UsageError
from tracking.tracker import PIP_REQUIREMENTS

INPUT_COLUMN = "input"


def raw_inputs(model_input: Any) -> list[str]:
    """The raw inputs of a pyfunc call: a DataFrame column 'input' (or first column), a list, a string."""
    if isinstance(model_input, pd.DataFrame):
        column = INPUT_COLUMN if INPUT_COLUMN in model_input else model_input.columns[0]
        return [str(v) for v in model_input[column].tolist()]
    if isinstance(model_input, str):
        return [model_input]
    return [str(v) for v in model_input]


class InvalidInput(UsageError, MlflowException):
    """Rows a model cannot take: a UsageError for the CLI, a 400 (invalid parameter) for MLflow's server."""

    def __init__(self, message: str) -> None:
        MlflowException.__init__(self, message, error_code=INVALID_PARAMETER_VALUE)


class ProblemModel(mlflow.pyfunc.PythonModel):
    """Raw input strings -> encoded arrays -> Keras model -> decoded output strings."""

    # Inputs are checked against the logged signature and by the problem's encoder: MLflow's type-hint
    # validation (and its warning that predict has no type hints) would duplicate that.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        import keras

        from pipeline.problems import problem_from_state

        self.model = keras.saving.load_model(context.artifacts["keras_model"], compile=False, safe_mode=True)
        self.problem = problem_from_state(json.loads(Path(context.artifacts["problem"]).read_text()))

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> list[str]:
        raw = raw_inputs(model_input)
        try:
            return self.problem.predict_raw(self.model, raw)
        except UsageError as exc:
            rows = self.problem.invalid_rows(raw) or [str(exc)]
            raise InvalidInput(f"{len(rows)} of {len(raw)} row(s) invalid, nothing predicted: "
                               + "; ".join(rows)) from None


def log_problem_model(tracker, run_id: str, keras_model, problem_state: dict[str, Any], examples: list[str],
                      outputs: list[str], name: str = "model") -> str:
    """Save the Keras model (native format) with the problem state; log as pyfunc; return its URI."""
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = Path(tmp) / "model.keras"
        keras_model.save(keras_path)
        state_path = Path(tmp) / "problem.json"
        state_path.write_text(json.dumps(problem_state, indent=2, default=str))
        example = pd.DataFrame({INPUT_COLUMN: examples})
        with tracker.active(run_id):
            info = mlflow.pyfunc.log_model(
                name=name, python_model=ProblemModel(),
                artifacts={"keras_model": str(keras_path), "problem": str(state_path)},
                signature=infer_signature(example, outputs), input_example=example,
                pip_requirements=PIP_REQUIREMENTS + ["lstm-tune"])
    return info.model_uri


def load_parts(model_uri: str) -> tuple[Any, dict[str, Any]]:
    """The Keras model (safe mode) and the problem state of a packaged model, e.g. models:/name@champion."""
    import keras

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    keras_model = keras.saving.load_model(local / "artifacts" / "model.keras", safe_mode=True)
    return keras_model, json.loads((local / "artifacts" / "problem.json").read_text())
