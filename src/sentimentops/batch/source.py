"""The input of a batch run, streamed record by record; an unreadable row (malformed CSV,
undecodable or NUL bytes, broken JSON) comes with a reason instead of fields, to be rejected."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import IO, Any

from sentimentops.batch.options import BatchOptions
from sentimentops.data.rows import (
    ENCODING_PROBLEMS,
    column_list,
    csv_rows,
    json_object,
    no_readable_row,
    preview,
)
from sentimentops.errors import DataError, SentimentOpsError
from sentimentops.storage import Location, LocationLike, object_store_error

__all__ = ["Record", "Source"]


@dataclass(frozen=True)
class Record:
    row_number: int  # 1-based data record, the header not counted
    fields: dict[str, Any] | None
    reason: str | None
    raw: str


class Source:
    """An input file (format by name, gzip by its bytes), known to exist, fingerprinted, and its
    ``key``: ``options.id_column`` when its first readable record has it, else ``row_number``.
    DataError: missing, unknown format, unreadable, not UTF-8 text, a column named twice, no text
    column (or required id column)."""

    def __init__(self, location: LocationLike, options: BatchOptions) -> None:
        self.location = Location(location)
        fingerprint, kind = self.location.fingerprint(), self.location.format  # one HEAD on S3
        if fingerprint is None:
            raise DataError(
                f"{location} does not exist. Check the path (or the S3 bucket and key)."
            )
        if kind is None:
            raise DataError(
                f"Cannot tell the format of {location}: use .csv, .csv.gz, .jsonl, .jsonl.gz or "
                ".parquet."
            )
        self.fingerprint, self.format = fingerprint, kind
        self.header: list[str] | None = None  # a CSV's header, a Parquet's schema, once read
        has_id = self._has_id(options)
        self.key = options.id_column if has_id and options.id_column else "row_number"

    def __str__(self) -> str:
        return str(self.location)

    def records(self) -> Generator[Record, None, None]:
        """Every record in order; raises DataError only when nothing more can be read: a CSV
        without a header, a gzip stream that breaks off, a file that is not Parquet."""
        if self.format == "parquet":
            yield from self._parquet_records()
            return
        with self.location.open("rb") as raw:
            stream = _maybe_gunzip(raw)
            # surrogateescape keeps undecodable bytes visible so that their row is rejected and
            # the rest goes on; utf-8-sig drops the byte-order mark Excel writes ("\ufeffid").
            text = io.TextIOWrapper(
                stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
            )
            records = self._csv_records(text) if self.format == "csv" else _jsonl_records(text)
            if isinstance(stream, gzip.GzipFile):
                records = self._gzip_breaks_as_data_errors(records)
            yield from records

    def _has_id(self, options: BatchOptions) -> bool:
        """Whether the first readable record has the id column (none: the rows are numbered);
        without a readable record, the header (or schema) is judged."""
        unreadable: Record | None = None  # the first record, while none is readable
        fields: dict[str, Any] | None = None
        try:
            with closing(self.records()) as records:
                for record in records:
                    if record.fields is not None:
                        fields = record.fields
                        break
                    unreadable = unreadable or record
        except OSError as error:
            if object_store_error(error) is not None:
                raise  # S3's answer: the caller's storage_errors block words it
            raise DataError(
                f"{self.location} cannot be read ({error.strerror or error}). Check that it is "
                "a file you may read."
            ) from None
        if fields is None and unreadable and unreadable.reason in ENCODING_PROBLEMS:
            raise no_readable_row(self.location, unreadable.row_number, unreadable.reason or "")
        names = fields if fields is not None else self.header
        if names is None:
            return False
        columns = column_list(names)
        if options.text_column not in names:
            raise DataError(
                f"{self.location} has no text column '{options.text_column}' (columns: "
                f"{columns}). Name it with --text-column."
            )
        if options.id_column is not None and options.id_column in names:
            return True
        if options.require_id_column:
            raise DataError(
                f"{self.location} has no id column '{options.id_column}' (columns: {columns}). "
                "Name it with --id-column, or leave the option out to number the rows "
                "(row_number)."
            )
        return False

    def _gzip_breaks_as_data_errors(self, records: Iterator[Record]) -> Iterator[Record]:
        """A gzip stream that breaks off cannot be read past the break, unlike a bad row."""
        rows = 0
        try:
            for record in records:
                rows = record.row_number
                yield record
        except EOFError:
            # The whole file, once back, is another input to --resume (its fingerprint differs).
            resume = " Then rerun without --resume." if rows else ""
            raise DataError(
                f"{self.location} is cut short: its gzip stream ends after {rows:,} rows, before "
                "its end-of-stream marker. The file is truncated (an interrupted download or "
                f"copy); download or compress it again.{resume}"
            ) from None
        except (gzip.BadGzipFile, zlib.error) as error:
            # A CRC failure shows only at the end: the rows read before it may be damaged too.
            resume = " Then rerun without --resume: the rows read before may be damaged too."
            raise DataError(
                f"{self.location} is not valid gzip after {rows:,} rows ({error}): the file is "
                "corrupt, or starts like gzip without being gzip. Download or compress it again."
                f"{resume if rows else ''}"
            ) from None

    def _csv_records(self, text: IO[str]) -> Iterator[Record]:
        header, rows = csv_rows(text, self.location)  # one judgement with data validate
        _refuse_repeated(header, self.location)
        self.header = header
        for row_number, values, reason, raw in rows:
            fields = None if values is None else dict(zip(header, values, strict=True))
            yield Record(row_number, fields, reason, raw)

    def _parquet_records(self) -> Iterator[Record]:
        import pyarrow.parquet as pq

        try:
            with self.location.open("rb") as stream:
                parquet = pq.ParquetFile(stream)
                self.header = parquet.schema_arrow.names
                _refuse_repeated(self.header, self.location)
                batches = parquet.iter_batches(batch_size=10_000)
                rows = (fields for batch in batches for fields in batch.to_pylist())
                for row_number, fields in enumerate(rows, start=1):
                    raw = preview(json.dumps(fields, default=str))
                    yield Record(row_number, fields, None, raw)
        except Exception as error:
            # S3 failing says nothing about the file's content: it goes to storage's rule.
            if isinstance(error, SentimentOpsError) or object_store_error(error) is not None:
                raise
            raise DataError(f"{self.location} is not a readable Parquet file ({error}).") from None


def _maybe_gunzip(raw: IO[bytes]) -> IO[bytes]:
    """Decompress when the bytes start with gzip's magic number, whatever the name says."""
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered  # type: ignore[no-any-return]


def _refuse_repeated(columns: list[str], location: Location) -> None:
    """DataError when a column is named twice: which of them holds the text would be a guess."""
    repeated = [name for name, times in Counter(columns).items() if times > 1 and name.strip()]
    if repeated:
        names = column_list(repeated, quoted=True)
        plural = "s" if len(repeated) > 1 else ""
        raise DataError(
            f"{location} names the column{plural} {names} more than once. Rename or remove"
            " the repeated columns so that each name is given once."
        )


def _jsonl_records(text: IO[str]) -> Iterator[Record]:
    for row_number, line in enumerate((line for line in text if line.strip()), start=1):
        fields, reason = json_object(line)
        raw = preview(line.rstrip("\n") if fields is not None else line)
        yield Record(row_number, fields, reason, raw)
