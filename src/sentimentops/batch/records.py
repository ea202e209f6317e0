"""Stream the records of an input file one by one, turning unreadable rows into rejects.

Each record is ``(row_number, fields or None, reason or None, raw preview)``: a row that cannot
be read (malformed CSV line, undecodable bytes, NUL bytes, broken JSON) comes out with a reason
instead of fields, so the caller can reject it and go on. Nothing is read whole into memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sentimentops.errors import DataError
from sentimentops.storage import (
    Location,
    location_exists,
    location_name,
    object_store_error,
    open_location,
)

__all__ = ["Record", "input_format", "read_records"]

PREVIEW_CHARS = 200
_CSV_FIELD_LIMIT = 50_000_000  # one review may be long; the csv default (128 KiB) is too small


@dataclass(frozen=True)
class Record:
    row_number: int  # 1-based data record, the header not counted
    fields: dict[str, Any] | None
    reason: str | None
    raw: str


def input_format(location: Location) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the name (gzip allowed for csv and jsonl)."""
    name = location_name(location).lower().removesuffix(".gz")
    for suffix, kind in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                         (".parquet", "parquet"), (".pq", "parquet")):  # fmt: skip
        if name.endswith(suffix):
            return kind
    raise DataError(
        f"Cannot tell the format of {location}: use .csv, .csv.gz, .jsonl, .jsonl.gz or .parquet."
    )


def read_records(location: Location) -> Generator[Record, None, None]:
    """Every record of the input in order; raises DataError only when nothing can be read, or
    nothing more: a gzip stream that breaks off (truncated or corrupt) mid-file.

    A missing input or an unknown format is refused by this call, before the first record is
    asked for, so a caller can look at the file (its fingerprint) once it is known to exist.
    """
    if not location_exists(location):
        raise DataError(f"{location} does not exist. Check the path (or the S3 bucket and key).")
    return _records(location, input_format(location))


def _records(location: Location, kind: str) -> Generator[Record, None, None]:
    if kind == "parquet":
        yield from _parquet_records(location)
        return
    with open_location(location, "rb") as raw:
        stream = _maybe_gunzip(raw)
        # surrogateescape keeps undecodable bytes visible (as lone surrogates) so the row that
        # holds them can be rejected while the rest of the file goes on.
        # utf-8-sig drops the byte-order mark Excel writes, which would otherwise stick to the
        # first column's name ("\ufeffid") and hide that column.
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        records = _csv_records(text, location) if kind == "csv" else _jsonl_records(text)
        if isinstance(stream, gzip.GzipFile):
            records = _gzip_breaks_as_data_errors(records, location)
        yield from records


def _maybe_gunzip(raw: IO[bytes]) -> IO[bytes]:
    """Decompress when the bytes start with gzip's magic number, whatever the name says."""
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered  # type: ignore[no-any-return]


def _gzip_breaks_as_data_errors(records: Iterator[Record], location: Location) -> Iterator[Record]:
    """``records`` of a gzip stream, raising a stream that breaks off as DataError: unlike a bad
    row, nothing after the break can be read. The rows read before it are whole ones."""
    rows = 0
    try:
        for record in records:
            rows = record.row_number
            yield record
    except EOFError:
        # The whole file, once back, is another file to --resume (its fingerprint differs):
        # the run starts over, as for any input that changed since the interrupted run.
        resume = " Then rerun without --resume." if rows else ""
        raise DataError(
            f"{location} is cut short: its gzip stream ends after {rows:,} rows, before its "
            "end-of-stream marker. The file is truncated (an interrupted download or copy); "
            f"download or compress it again.{resume}"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as error:
        # A CRC failure shows only at the end: the rows read before it may be damaged too.
        resume = (
            " Then rerun without --resume: the rows read before may be damaged too." if rows else ""
        )
        raise DataError(
            f"{location} is not valid gzip after {rows:,} rows ({error}): the file is corrupt, "
            f"or starts like gzip without being gzip. Download or compress it again.{resume}"
        ) from None


# surrogateescape decodes each undecodable byte to one of these lone surrogates.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _problem_in(text: str) -> str | None:
    if "\x00" in text:
        return "NUL byte in row"
    # Escaped bytes are non-ASCII: most rows are ASCII, and str.isascii() is a flag check.
    if not text.isascii() and _ESCAPED_BYTE.search(text):
        return "undecodable bytes (not UTF-8)"
    return None


def _preview(text: str) -> str:
    return text[:PREVIEW_CHARS].encode("utf-8", "replace").decode("utf-8")


def _csv_records(text: IO[str], location: Location) -> Iterator[Record]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{location} is empty: a CSV needs a header line.") from None
    except csv.Error as error:
        raise DataError(f"{location}: the header line cannot be read ({error}).") from None
    row_number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row_number += 1
            yield Record(row_number, None, f"malformed CSV line ({error})", "")
            continue
        row_number += 1
        raw = ",".join(row)
        if problem := _problem_in(raw):
            yield Record(row_number, None, problem, _preview(raw))
        elif len(row) != len(header):
            reason = f"malformed CSV line: expected {len(header)} fields, got {len(row)}"
            yield Record(row_number, None, reason, _preview(raw))
        else:
            yield Record(row_number, dict(zip(header, row, strict=True)), None, _preview(raw))


def _jsonl_records(text: IO[str]) -> Iterator[Record]:
    row_number = 0
    for line in text:
        if not line.strip():
            continue
        row_number += 1
        if problem := _problem_in(line):
            yield Record(row_number, None, problem, _preview(line))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield Record(row_number, None, f"invalid JSON ({error.msg})", _preview(line))
            continue
        except RecursionError:  # [[[[...]]]] thousands deep: a hostile line, not a crash
            yield Record(row_number, None, "invalid JSON (nested too deeply)", _preview(line))
            continue
        if not isinstance(value, dict):
            yield Record(row_number, None, "JSON line is not an object", _preview(line))
            continue
        yield Record(row_number, value, None, _preview(line.rstrip("\n")))


def _parquet_records(location: Location) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        with open_location(location, "rb") as stream:
            parquet = pq.ParquetFile(stream)
            row_number = 0
            for batch in parquet.iter_batches(batch_size=10_000):
                for fields in batch.to_pylist():
                    row_number += 1
                    yield Record(
                        row_number, fields, None, _preview(json.dumps(fields, default=str))
                    )
    except Exception as error:
        # An S3 error (an outage, or a refusal such as access denied) says nothing about the
        # file's content: let it through for the predictor to map with storage's rule.
        if isinstance(error, DataError) or object_store_error(error) is not None:
            raise
        raise DataError(f"{location} is not a readable Parquet file ({error}).") from None
