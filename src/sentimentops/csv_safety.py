"""CSV safe to open in a spreadsheet (docs/decisions.md, "Storage and batch"): formula cells get
a leading ``'`` (OWASP, "CSV Injection") and line breaks in cells are quoted."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["CSV_LINE_END", "FORMULA_STARTS", "defuse_formulas", "write_csv"]

# RFC 4180's line end: with "\n", csv leaves a lone "\r" in a cell unquoted; readers split there.
CSV_LINE_END = "\r\n"

# A formula's start; some spreadsheets skip a leading tab or carriage return before they look.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# "-3" or "+1.5e3" is read as a number, never evaluated: such ids are kept as they are.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def write_csv(frame: pd.DataFrame, stream: Any, *, header: bool = True) -> None:
    """``frame`` as CSV rows on ``stream``: formulas defused, line breaks in cells quoted."""
    defuse_formulas(frame).to_csv(stream, index=False, header=header, lineterminator=CSV_LINE_END)


def defuse_formulas(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """``frame`` with each text cell (in ``columns``, default all) that a spreadsheet would run as
    a formula prefixed with ``'``; numbers and other cells unchanged."""
    defused = frame.copy()
    for name in columns if columns is not None else defused.columns:
        if defused[name].dtype == object or pd.api.types.is_string_dtype(defused[name]):
            defused[name] = defused[name].map(_defused_cell)
    return defused


def _defused_cell(value: Any) -> Any:
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value
