"""How the statistics read: numbers for people, Markdown tables, and strict JSON for the tracking store.

Shared by every result record (`results`) and by the rules' sentences, so a number reads the same in a
table, a rule and the HTML report."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def fmt(value: Any, digits: int = 4) -> str:
    """A number for reading (Markdown and HTML alike): counts with thousands separators, `digits`
    decimals, values below 10^-(digits-1) with 3 significant digits, "—" for a missing one."""
    if value is None or value is pd.NA:
        return "—"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "—"
    return f"{v:.3g}" if v != 0 and abs(v) < 10 ** -(digits - 1) else f"{v:.{digits}f}"


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; pipes and newlines in cells are escaped so a note cannot break the layout."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """Plain Python types only, nan/inf as None, so json.dumps(..., allow_nan=False) works."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value if isinstance(value, str) else str(value)
