"""Assemble part files into one output, in the format its extension names, atomically.

CSV outputs are opened in spreadsheets, where a cell starting with ``=``, ``+``, ``-`` or ``@``
is a formula: a review id or rejected row such as ``=HYPERLINK("http://evil","click")`` would
become a live link. Text cells of CSV outputs are written the way OWASP advises against CSV
injection, with a leading ``'`` (shown by spreadsheets, kept by parsers). JSON Lines and Parquet
are data formats no spreadsheet evaluates: they keep every text verbatim.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentimentops.errors import DataError
from sentimentops.storage import Location, location_name

__all__ = ["CSV_LINE_END", "defuse_formulas", "output_format", "write_csv", "write_table"]

# RFC 4180's line end. With it Python's csv module quotes a cell holding a lone carriage return;
# with "\n" (Python 3.11) it does not, and readers split the row there: an id "\r=1+1" became
# an extra row starting with a live formula.
CSV_LINE_END = "\r\n"

# What spreadsheets read as the start of a formula; a tab or carriage return first is skipped
# by some of them before they look. (OWASP, "CSV Injection".)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# "-3" or "+1.5e3" is read as a number, never evaluated: such ids are kept as they are.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def output_format(location: Location) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the name of an output path or URI."""
    name = location_name(location).lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise DataError(
        f"Cannot tell the output format of {location}: use .csv, .csv.gz, .jsonl or .parquet."
    )


def write_table(parts: list[Path], output: Path, columns: list[str] | None = None) -> int:
    """Concatenate Parquet ``parts`` into ``output`` one part at a time; returns the row count.

    Written to ``output``'s name plus ``.tmp`` first and renamed when complete.
    """
    kind = output_format(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    rows = 0
    try:
        if kind == "parquet":
            rows = _write_parquet(parts, temporary, columns)
        else:
            opener = gzip.open if output.name.lower().endswith(".gz") else open
            with opener(temporary, "wt", encoding="utf-8", newline="") as stream:
                for index, part in enumerate(parts):
                    frame = pd.read_parquet(part)
                    if kind == "csv":
                        write_csv(frame, stream, header=index == 0)
                    else:
                        for record in frame.to_dict("records"):
                            stream.write(json.dumps(record, default=str) + "\n")
                    rows += len(frame)
                if not parts and kind == "csv" and columns:
                    stream.write(",".join(columns) + CSV_LINE_END)
        temporary.replace(output)
    except BaseException:
        temporary.unlink(missing_ok=True)  # never leave a partial file behind
        raise
    return rows


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


def _write_parquet(parts: list[Path], temporary: Path, columns: list[str] | None) -> int:
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for part in parts:
            table = pq.read_table(part)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += table.num_rows
        if writer is None:
            schema = pa.schema([(name, pa.string()) for name in columns or []])
            pq.write_table(schema.empty_table(), temporary)
    finally:
        if writer is not None:
            writer.close()
    return rows
