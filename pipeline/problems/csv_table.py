"""Reading a user's CSV time series: numeric columns in time order, with one clear error per defect.

The date column (detected, or named by `time=`) orders the rows and dates the plot's axis; duplicated
timestamps are refused in one line, unsorted ones sorted and said so. `features=` picks the input columns.
Windowing, scaling and scoring are the csv problem's job (csv_series.py); this module only reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import UsageError


@dataclass
class Table:
    """The input columns of a CSV file (the target among them), rows in time order."""

    values: np.ndarray  # (rows, columns), float64
    columns: list[str]
    target: str
    target_index: int
    date_range: list[str] | None  # first and last date, when the file has a date column
    ignored: list[str]  # columns read but not used (text, or numeric columns left out by features=)
    dates: pd.DatetimeIndex | None = None  # one per row, in time order
    notes: list[str] = field(default_factory=list)  # what reading changed, e.g. rows sorted by date


def table_error(path, message: str) -> UsageError:
    return UsageError(f"problem 'csv': {path}: {message}")


def read_table(path, target: str | None, time: str | None = None, features: list[str] | None = None) -> Table:
    """Read `path`; the target is the named numeric column, or the last numeric one; the inputs are the
    `features` and the target (every numeric column when features is None)."""
    fail = lambda message: table_error(path, message)  # noqa: E731
    frame = _frame(path, fail)
    numeric, text, date_col = _columns(frame, time, fail)
    target = target or (numeric[-1] if numeric else None)
    if not numeric:
        listed = ", ".join(f"'{c}'" for c in text)
        raise fail(f"no numeric column: column{'s' if len(text) > 1 else ''} {listed} "
                   f"{'are' if len(text) > 1 else 'is'} not numeric")
    if target not in numeric:
        if target in frame.columns:
            raise fail(f"target column '{target}' is not numeric; numeric columns: {', '.join(numeric)}")
        raise fail(f"target column '{target}' not found; numeric columns: {', '.join(map(str, numeric))}")
    inputs = numeric if features is None else _inputs(features, target, numeric, frame, fail)
    for col in inputs:
        gaps = int(frame[col].isna().sum())
        if gaps:
            raise fail(f"column '{col}' has {gaps} missing value(s) (NaN gaps); fill or drop them first")
        if not np.isfinite(frame[col].to_numpy(dtype=float)).all():
            raise fail(f"column '{col}' has infinite values")
    dates, notes, date_range = None, [], None
    if date_col is not None:
        frame, notes = _in_time_order(frame, date_col, fail)
        dates = pd.DatetimeIndex(frame[date_col])
        date_range = [str(dates[0]), str(dates[-1])]
    columns = [str(c) for c in inputs]
    ignored = [str(c) for c in text] + [str(c) for c in numeric if c not in inputs]
    return Table(frame[inputs].to_numpy(dtype=np.float64), columns, str(target), columns.index(str(target)),
                 date_range, ignored, dates, notes)


def _frame(path, fail) -> pd.DataFrame:
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
    return frame


def _columns(frame: pd.DataFrame, time: str | None, fail) -> tuple[list, list, str | None]:
    """(numeric columns, text columns, the date column or None); converts the date column in place."""
    if time is not None:
        if time not in frame.columns:
            raise fail(f"time column '{time}' not found; columns: {', '.join(map(str, frame.columns))}")
        _to_dates(frame, time, fail, named=True)
    numeric, text, date_col = [], [], time
    for col in frame.columns:
        if col == time:
            continue
        present = frame[col].dropna()
        if pd.api.types.is_numeric_dtype(frame[col]):
            numeric.append(col)
            continue
        as_number = pd.to_numeric(present, errors="coerce")
        if len(present) and as_number.notna().mean() >= 0.5:  # a numeric column with stray values
            bad = present[as_number.isna()]
            raise fail(f"column '{col}' is not numeric: {len(bad)} value(s) such as "
                       f"{str(bad.iloc[0])[:30]!r} in row {int(bad.index[0]) + 2}")
        if date_col is None and len(present) and \
                pd.to_datetime(present, errors="coerce", format="mixed").notna().mean() >= 0.95:
            date_col = _to_dates(frame, col, fail)
            continue
        text.append(col)  # text columns are not used
    return numeric, text, date_col


def _to_dates(frame: pd.DataFrame, col: str, fail, named: bool = False) -> str:
    """Convert `col` to dates in place; one line naming the first value that is not a date."""
    if named and pd.api.types.is_numeric_dtype(frame[col]):
        raise fail(f"time column '{col}' holds numbers, not dates (write dates such as 2020-01-31)")
    dates = pd.to_datetime(frame[col], errors="coerce", format="mixed")
    bad = frame[col][dates.isna()]
    if len(bad):
        what = "time column" if named else "date column"
        raise fail(f"{what} '{col}' has {len(bad)} value(s) that are not dates, such as "
                   f"{str(bad.iloc[0])[:30]!r} in row {int(bad.index[0]) + 2}")
    frame[col] = dates
    return col


def _inputs(features: list[str], target: str, numeric: list, frame: pd.DataFrame, fail) -> list:
    """The exogenous `features` (numeric columns of the file) and the target, in the file's order."""
    for name in features:
        if name not in frame.columns:
            raise fail(f"feature column '{name}' not found; numeric columns: {', '.join(map(str, numeric))}")
        if name not in numeric:
            raise fail(f"feature column '{name}' is not numeric; numeric columns: {', '.join(map(str, numeric))}")
    return [c for c in numeric if c in features or c == target]


def _in_time_order(frame: pd.DataFrame, date_col: str, fail) -> tuple[pd.DataFrame, list[str]]:
    """Rows sorted by date; duplicated timestamps refused (which value would a window see?)."""
    repeated = frame[date_col].duplicated(keep=False)
    if repeated.any():
        first = frame[date_col][repeated].iloc[0]
        rows = [int(i) + 2 for i in frame.index[frame[date_col] == first]]
        raise fail(f"date column '{date_col}' has {int(frame[date_col].duplicated().sum())} duplicated "
                   f"timestamp(s), e.g. {first} in rows {', '.join(map(str, rows[:3]))}; keep one row per "
                   f"timestamp (aggregate or drop the duplicates) first")
    out_of_order = int((frame[date_col].diff() < pd.Timedelta(0)).sum())
    if not out_of_order:
        return frame, []
    return (frame.sort_values(date_col, kind="stable").reset_index(drop=True),
            [f"rows sorted by '{date_col}' ({out_of_order} row(s) were earlier than the row before them)"])
