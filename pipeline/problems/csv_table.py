"""Reading a user's CSV time series: numeric columns in time order, with one clear error per defect.

Windowing, scaling and scoring are the csv problem's job (csv_series.py); this module only reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import UsageError


@dataclass
class Table:
    """The numeric columns of a CSV file, rows in time order (sorted by its date column, if any)."""

    values: np.ndarray  # (rows, columns), float64
    columns: list[str]
    target: str
    target_index: int
    date_range: list[str] | None  # first and last date, when the file has a date column
    ignored: list[str]  # text columns, not used


def table_error(path, message: str) -> UsageError:
    return UsageError(f"problem 'csv': {path}: {message}")


def read_table(path, target: str | None) -> Table:
    """Read `path`; the target is the named numeric column, or the last numeric one."""
    fail = lambda message: table_error(path, message)  # noqa: E731
    if not Path(path).is_file():
        raise fail("file not found")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise fail("the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise fail(f"not a readable CSV ({str(exc).splitlines()[0][:120]})") from None
    if frame.empty:
        raise fail("the file has a header but no rows")
    numeric, text, date_col = [], [], None
    for col in frame.columns:
        present = frame[col].dropna()
        if pd.api.types.is_numeric_dtype(frame[col]):
            numeric.append(col)
            continue
        as_number = pd.to_numeric(present, errors="coerce")
        if len(present) and as_number.notna().mean() >= 0.5:  # a numeric column with stray values
            bad = present[as_number.isna()]
            raise fail(f"column '{col}' is not numeric: {len(bad)} value(s) such as "
                       f"{str(bad.iloc[0])[:30]!r} in row {int(bad.index[0]) + 2}")
        if date_col is None and len(present):
            dates = pd.to_datetime(present, errors="coerce", format="mixed")
            if dates.notna().mean() >= 0.95:
                bad = frame[col][pd.to_datetime(frame[col], errors="coerce", format="mixed").isna()]
                if len(bad):
                    raise fail(f"date column '{col}' has {len(bad)} value(s) that are not dates, such as "
                               f"{str(bad.iloc[0])[:30]!r} in row {int(bad.index[0]) + 2}")
                date_col, frame[col] = col, pd.to_datetime(frame[col], format="mixed")
                continue
        text.append(col)  # text columns are not used
    if not numeric:
        listed = ", ".join(f"'{c}'" for c in text)
        raise fail(f"no numeric column: column{'s' if len(text) > 1 else ''} {listed} "
                   f"{'are' if len(text) > 1 else 'is'} not numeric")
    target = target or numeric[-1]
    if target not in numeric:
        if target in frame.columns:
            raise fail(f"target column '{target}' is not numeric; numeric columns: {', '.join(numeric)}")
        raise fail(f"target column '{target}' not found; numeric columns: {', '.join(map(str, numeric))}")
    for col in numeric:
        gaps = int(frame[col].isna().sum())
        if gaps:
            raise fail(f"column '{col}' has {gaps} missing value(s) (NaN gaps); fill or drop them first")
        if not np.isfinite(frame[col].to_numpy(dtype=float)).all():
            raise fail(f"column '{col}' has infinite values")
    date_range = None
    if date_col is not None:
        frame = frame.sort_values(date_col, kind="stable")
        date_range = [str(frame[date_col].iloc[0]), str(frame[date_col].iloc[-1])]
    columns = [str(c) for c in numeric]
    return Table(frame[numeric].to_numpy(dtype=np.float64), columns, str(target), columns.index(str(target)),
                 date_range, [str(c) for c in text])
