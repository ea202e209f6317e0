"""CSV that is safe to open in a spreadsheet: a text cell a spreadsheet would run as a formula
(``=HYPERLINK(...)``) gets a leading ``'``, as OWASP advises against CSV injection, and line
breaks inside cells are quoted. Every CSV written for people goes through :func:`write_csv`;
JSON Lines and Parquet keep texts verbatim (no spreadsheet evaluates them)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["CSV_LINE_END", "FORMULA_STARTS", "defuse_formulas", "write_csv"]

# RFC 4180's line end. With it Python's csv module quotes a cell holding a lone carriage return;
# with "\n" (Python 3.11) it does not, and readers split the row there: an id "\r=1+1" became
# an extra row starting with a live formula.
CSV_LINE_END = "\r\n"

# What spreadsheets read as the start of a formula; a tab or carriage return first is skipped
# by some of them before they look. (OWASP, "CSV Injection".)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# "-3" or "+1.5e3" is read as a number, never evaluated: such ids are kept as they are.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def write_csv(frame: pd.DataFrame, stream: Any, *, header: bool = True) -> None:
    """``frame`` as CSV rows on ``stream``: formulas defused, every line break inside a cell
    quoted."""
    defuse_formulas(frame).to_csv(stream, index=False, header=header, lineterminator=CSV_LINE_END)


def defuse_formulas(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula prefixed with
    ``'`` (in ``columns``, default all); numbers and other cells unchanged. For CSV outputs."""
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
