"""Predict with the registered champion (or any alias / version) of a problem, from raw inputs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, get_problem
from pipeline.settings import JobSettings
from tracking.names import model_name
from tracking.packaging import INPUT_COLUMN
from tracking.registry import Registry, alias_uri, load_model


def read_inputs(inputs: list[str] | None, input_file: str | None) -> list[str]:
    """Raw inputs from the command line and/or a CSV file (column 'input', or its first column)."""
    raw = list(inputs or [])
    if input_file:
        path = Path(input_file)
        if not path.is_file():
            raise UsageError(f"input file not found: {path}")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if frame.empty:
            raise UsageError(f"input file {path} has no rows")
        raw += frame[INPUT_COLUMN if INPUT_COLUMN in frame else frame.columns[0]].tolist()
    if not raw:
        raise UsageError("give INPUT='...' or INPUT_FILE=inputs.csv")
    return raw


def predict(problem: str, raw: list[str], alias: str, settings: JobSettings) -> list[tuple[str, str]]:
    """(input, decoded prediction) pairs from models:/lstm-<problem>@<alias>."""
    if problem not in PROBLEMS:
        get_problem(problem)  # unknown problem -> the error that lists the known ones
    tracker = settings.tracker()
    name = model_name(problem)
    if Registry(tracker).alias(name, alias) is None:
        raise UsageError(f"no model '{name}' with alias '{alias}' in {tracker.uri}; "
                         f"run `make report PROBLEM={problem}` first")
    model = load_model(alias_uri(name, alias))
    outputs = model.predict(pd.DataFrame({INPUT_COLUMN: raw}))
    return list(zip(raw, [str(o) for o in outputs]))
