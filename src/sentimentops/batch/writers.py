"""Assemble part files into one output, atomically, in the format its extension names: CSV with
formulas defused (:mod:`sentimentops.csv_safety`), JSON Lines and Parquet verbatim."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import is_object_dtype

from sentimentops.csv_safety import write_csv
from sentimentops.errors import DataError
from sentimentops.storage import Location

__all__ = ["output_format", "write_table"]


def output_format(location: Location) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from an output's name; DataError for another name."""
    if location.format is not None:
        return location.format
    raise DataError(
        f"Cannot tell the output format of {location}: use .csv, .csv.gz, .jsonl or .parquet."
    )


def write_table(parts: list[Path], output: Path, empty: pd.DataFrame) -> int:
    """Concatenate Parquet ``parts`` into ``output`` one part at a time, through a ``.tmp`` file
    renamed when complete; without parts, ``empty``'s columns (a CSV header, a Parquet schema).
    Returns the row count."""
    kind = output_format(Location(output))
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    rows = 0
    try:
        if kind == "parquet":
            rows = _write_parquet(parts, temporary, empty)
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
                if not parts and kind == "csv":
                    write_csv(empty, stream)
        temporary.replace(output)
    except BaseException:
        temporary.unlink(missing_ok=True)  # never leave a partial file behind
        raise
    return rows


def _write_parquet(parts: list[Path], temporary: Path, empty: pd.DataFrame) -> int:
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
            # An empty object column has no type of its own (Arrow's null): text, as when written.
            schema = pa.schema(
                (name, pa.string() if is_object_dtype(dtype) else pa.from_numpy_dtype(dtype))
                for name, dtype in empty.dtypes.items()
            )
            pq.write_table(schema.empty_table(), temporary)
    finally:
        if writer is not None:
            writer.close()
    return rows
