"""Read review datasets (CSV, Parquet, JSON Lines, gzip or not, local or ``s3://``; an ``aclImdb/``
folder) into one table with ``review`` and ``sentiment``; a file not read whole is a DataError,
except for :func:`load_readable_reviews`, which sets unreadable rows apart as predict does."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypedDict

import pandas as pd

from sentimentops.config import DataSettings, source_checkout
from sentimentops.data.aclimdb import is_aclimdb_folder, read_aclimdb_folder
from sentimentops.data.csv_blocks import after_line_end, line_blocks
from sentimentops.data.rows import (
    ENCODING_PROBLEMS,
    column_list,
    csv_rows,
    json_object,
    no_readable_row,
    preview,
)
from sentimentops.data.version import sha256_file
from sentimentops.errors import (
    BadInputError,
    ChecksumMismatchError,
    DataError,
    SentimentOpsError,
)
from sentimentops.features.blank import is_blank
from sentimentops.storage import Location, LocationLike

__all__ = [
    "CHUNK_ROWS",
    "LABEL_COLUMN",
    "SUPPORTED_FORMATS",
    "TEXT_COLUMN",
    "DatasetFormat",
    "ReadableRows",
    "UnreadableRow",
    "canonical_columns",
    "detect_format",
    "load_readable_reviews",
    "load_reference_dataset",
    "load_reviews",
    "load_verified_parquet",
    "read_expected_sha256",
    "read_table",
    "read_table_chunks",
]

TEXT_COLUMN = "review"
LABEL_COLUMN = "sentiment"

DatasetFormat = Literal["csv", "parquet", "jsonl", "aclimdb"]
SUPPORTED_FORMATS = (
    ".csv, .csv.gz, .parquet, .pq, .jsonl, .ndjson, .jsonl.gz, or an aclImdb/ folder"
)
CHUNK_ROWS = 10_000  # rows of reviews read at a time: some 15 MB of text
_READ_BUFFER = 1 << 20
# read_table's one chunk: JSON Lines dtypes are inferred over the whole file, and a CSV is parsed
# in one pass (pandas drops extra fields of a chunk's first row without a word).
_ALL_ROWS = sys.maxsize


@dataclass(frozen=True)
class UnreadableRow:
    """A data row that cannot be read, and why (the reasons ``predict`` rejects it with)."""

    row_number: int  # 1-based data row, the header not counted
    reason: str
    raw: str  # the start of the row, an undecodable byte shown as "?"


@dataclass(frozen=True)
class ReadableRows:
    """The rows of a file that could be read, in file order, and those that could not."""

    frame: pd.DataFrame
    unreadable: tuple[UnreadableRow, ...] = ()


def detect_format(location: LocationLike) -> DatasetFormat:
    """The format of a dataset from its name (and, for local folders, its layout)."""
    where = Location(location)
    if not where.remote and where.path.is_dir():
        if is_aclimdb_folder(where.path):
            return "aclimdb"
        raise DataError(
            f"{location} is a folder but not the aclImdb layout "
            "(train|test/pos|neg/<id>_<rating>.txt). Point at a data file or an aclImdb folder."
        )
    if where.format is not None:
        return where.format
    raise DataError(
        f"Cannot tell the format of {location} from its name. Supported: {SUPPORTED_FORMATS}."
    )


def load_reviews(
    location: LocationLike,
    *,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    require_labels: bool = False,
) -> pd.DataFrame:
    """A dataset's rows in file order as :func:`canonical_columns` (labels not validated yet).
    Raises DataError as :func:`read_table` and :func:`canonical_columns` do."""
    return canonical_columns(
        read_table(location), location, text_column, label_column, require_labels=require_labels
    )


def load_readable_reviews(
    location: LocationLike,
    *,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    require_labels: bool = False,
) -> ReadableRows:
    """As :func:`load_reviews`, but a CSV or JSON Lines row that cannot be read (NUL or
    undecodable bytes, a malformed CSV record, a line that is not a JSON object) is set apart
    with its reason, as ``predict`` rejects it. Still DataError for a file none of whose rows
    can be read, or whose CSV header cannot (binary, UTF-16, Parquet), and as
    :func:`load_reviews` otherwise."""
    where, dataset_format = _existing(location)
    if dataset_format == "csv":
        rows = _readable_csv(where)
    elif dataset_format == "jsonl":
        rows = _readable_jsonl(_read_bytes(where), where)
    else:  # Parquet and aclImdb folders have no rows that cannot be read alone
        rows = ReadableRows(_read_table(where, dataset_format))
    frame = canonical_columns(
        rows.frame, location, text_column, label_column, require_labels=require_labels
    )
    return ReadableRows(frame, rows.unreadable)


def read_table(location: LocationLike) -> pd.DataFrame:
    """The rows of any supported file or folder as they are: :func:`read_table_chunks` in one
    chunk. Raises DataError (missing, unknown format, undecodable, malformed), ConfigError or
    StorageUnavailableError (S3)."""
    return _read_table(*_existing(location))


def read_table_chunks(
    location: LocationLike, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The rows of any supported file, ``chunk_rows`` at a time (an aclImdb folder at once), so
    that a large file is never held whole; a file without rows gives one empty chunk with its
    columns (no JSON Lines: it holds none). The DataErrors of :func:`read_table`, raised when the
    chunk holding the fault is read."""
    yield from _table_chunks(*_existing(location), chunk_rows)


def _existing(location: LocationLike) -> tuple[Location, DatasetFormat]:
    """``location`` and its format; DataError when it does not exist or has no known format."""
    where = Location(location)
    if not where.exists():
        raise DataError(f"{location} does not exist. Check the path (or the S3 bucket and key).")
    return where, detect_format(where)


def _read_table(where: Location, dataset_format: DatasetFormat) -> pd.DataFrame:
    chunks = list(_table_chunks(where, dataset_format, _ALL_ROWS))
    # One chunk, unless Arrow splits a large Parquet file into batches.
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _table_chunks(
    where: Location, dataset_format: DatasetFormat, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    if dataset_format == "aclimdb":
        yield read_aclimdb_folder(where.path)
    elif dataset_format == "parquet":
        yield from _parquet_chunks(where, chunk_rows)
    else:
        with _checked_stream(where, dataset_format) as stream:
            if dataset_format == "csv":
                yield from _csv_chunks(stream, where, chunk_rows)
            else:
                yield from _jsonl_chunks(stream, where, chunk_rows)


def read_expected_sha256(checksum_file: Path) -> str:
    """The digest from a ``sha256sum``-format file (``<hex>  <name>``)."""
    try:
        first_field = checksum_file.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError) as error:
        raise DataError(
            f"Cannot read the checksum file {checksum_file} ({error}). "
            "It must hold a line '<sha256>  <file name>' as written by sha256sum."
        ) from None
    return first_field.lower()


def load_reference_dataset(settings: DataSettings) -> tuple[pd.DataFrame, Path]:
    """The reference dataset (the vendored IMDB data by default), checked against its sha256, and
    where it was found (here, else the project folder); DataError or ChecksumMismatchError."""
    path, checksum_file = settings.reference_files()
    if not path.is_file():
        checkout = source_checkout()
        where = f"the working directory {Path.cwd()}" + (
            f" or the project folder {checkout}" if checkout else ""
        )
        raise DataError(
            f"The reference dataset {path} is not in {where}. Set data.reference_path "
            "(SENTIMENTOPS_DATA__REFERENCE_PATH) to where it is, or name a dataset of your own."
        )
    return load_verified_parquet(path, checksum_file), path


def load_verified_parquet(path: Path, checksum_file: Path) -> pd.DataFrame:
    """A vendored dataset, its bytes checked against the recorded sha256 first; DataError when
    ``path`` is missing, ChecksumMismatchError when the bytes differ."""
    if not path.is_file():
        raise DataError(
            f"The dataset {path} does not exist. Set data.reference_path "
            "(SENTIMENTOPS_DATA__REFERENCE_PATH) to where it is."
        )
    expected = read_expected_sha256(checksum_file)
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{path} has sha256 {actual}, but {checksum_file} records {expected}. The file was "
            f"changed or truncated: restore it with `git checkout -- {path}`."
        )
    return load_reviews(path)


def _read_bytes(location: Location) -> bytes:
    """``location``'s bytes, gunzipped, unchecked: the readable paths set bad rows apart."""
    with _checked_stream(location, None) as stream:
        return stream.read()


class _UnreadableBytesError(DataError):
    """Bytes that are not UTF-8, or a NUL in a CSV: :func:`load_readable_reviews` reads the file
    again to set their rows apart."""


class _MalformedCsvError(DataError):
    """A CSV record that does not fit the header, or a broken quote: :func:`load_readable_reviews`
    reads the file again to set its rows apart."""


@contextmanager
def _checked_stream(
    location: Location, text: Literal["csv", "jsonl"] | None
) -> Iterator[IO[bytes]]:
    """``location``'s bytes, read as :class:`_CheckedBytes`, buffered."""
    try:
        with location.open("rb") as opened:  # S3's failures come as errors of ours
            yield io.BufferedReader(_CheckedBytes(opened, location, text), _READ_BUFFER)
    except OSError as error:  # raised while the chunks were read, or at the opening
        raise DataError(f"Cannot read {location}: {error}.") from None


class _CheckedBytes(io.RawIOBase):
    """A file's bytes, gunzipped when they start as gzip, which raise DataError at the chunk that
    shows the fault: a broken gzip stream; with ``text``, bytes that are not UTF-8, and in a CSV a
    NUL (pandas' parser ends a field at one) or no text but whitespace (at the end)."""

    def __init__(
        self, stream: IO[bytes], location: Location, text: Literal["csv", "jsonl"] | None
    ) -> None:
        super().__init__()
        buffered: Any = stream if hasattr(stream, "peek") else io.BufferedReader(stream)
        self._gzip = buffered.peek(2)[:2] == b"\x1f\x8b"
        source = gzip.GzipFile(fileobj=buffered) if self._gzip else buffered
        self._read_source: Callable[[int], bytes] = source.read
        self._location, self._text = location, text
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._lines = 0  # line ends passed: the line a fault is on
        self._blank = True  # no text but whitespace yet

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        if self._text is not None:
            self._check(data)
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        try:
            return self._read_source(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:  # truncated, damaged, CRC
            if not self._gzip:
                raise
            raise DataError(
                f"{self._location} looks gzip-compressed but is corrupt or truncated ({error}). "
                "Re-create or re-download it."
            ) from None

    def _check(self, data: bytes) -> None:
        pending = self._decoder.getstate()[0]  # the start of a character cut by the last read
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            seen = pending + data  # the decoder's error positions count from here
            line = self._lines + seen[: error.start].count(b"\n") + 1
            raise _UnreadableBytesError(
                f"{self._location} is not UTF-8 text: byte 0x{seen[error.start]:02x} on line "
                f"{line} cannot be decoded. Re-save the file as UTF-8 (or check that it is the "
                "file you meant)."
            ) from None
        if self._text == "csv":
            if b"\x00" in data:
                line = self._lines + data[: data.index(b"\x00")].count(b"\n") + 1
                raise _nul_in_csv(self._location, line)
            self._blank = self._blank and is_blank(text)  # the BOM counts as whitespace
            if self._blank and not data:
                raise DataError(
                    f"{self._location} is empty. A CSV needs a header line such as "
                    "review,sentiment."
                )
        self._lines += data.count(b"\n")


class _QuoteOpenError(_MalformedCsvError):
    """A quoted field still open where the CSV (or the block of it that was parsed) ends."""


class _TextFieldOptions(TypedDict):
    dtype: type[str]
    keep_default_na: bool
    na_values: list[str]
    engine: Literal["c"]


# How every CSV is parsed: each field stays text, only empty fields are missing ("NA" or "null"
# can be a review).
_TEXT_FIELDS: _TextFieldOptions = {
    "dtype": str, "keep_default_na": False, "na_values": [""], "engine": "c",
}  # fmt: skip
_QUOTE_OPEN = "EOF inside string"  # pandas' words for a quoted field open at the end
_PANDAS_TOO_WIDE = re.compile(r"Expected (?P<expected>\d+) fields in line \d+, saw (?P<saw>\d+)")


def _csv_chunks(stream: IO[bytes], location: Location, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if chunk_rows == _ALL_ROWS:  # an empty file is refused by _CheckedBytes before pandas can
        yield _parsed_csv(stream, location, 0, _csv_fault)
    else:
        yield from _in_chunks(_csv_blocks(stream, location, chunk_rows), chunk_rows)


def _csv_blocks(stream: IO[bytes], location: Location, lines: int) -> Iterator[pd.DataFrame]:
    """A CSV's rows, parsed a block of some ``lines`` lines at a time, each block under the
    file's header and in one pass: pandas' own chunks miss a row with too many fields that
    starts one (pandas-dev/pandas#11569)."""
    header = b""  # the first block holds the header
    held: list[bytes] = []
    held_size = parse_at = rows_before = 0
    for block, last in line_blocks(stream, lines, _READ_BUFFER):
        held.append(block)
        held_size += len(block)
        # Parsed again only once doubled: a review of a million lines is parsed about twice in
        # all, not once per block (30 MB took 27 s that way).
        if held_size < parse_at and not last:
            continue
        data = b"".join(held)
        try:
            fault = _block_fault(header, data, rows_before, last=last)
            frame = _parsed_csv(io.BytesIO(header + data), location, rows_before, fault)
        except (_QuoteOpenError, pd.errors.EmptyDataError):
            if last:  # at the end, _CheckedBytes has refused a file of blank lines
                raise
            # Cut inside a quoted field, or before the header: read on.
            held, parse_at = [data], 2 * held_size
            continue
        header, held, held_size, parse_at = header or _csv_header(data), [], 0, 0
        rows_before += len(frame)
        yield frame


def _parsed_csv(
    source: IO[bytes],
    location: Location,
    rows_before: int,
    fault: Callable[[pd.errors.ParserError], str],
) -> pd.DataFrame:
    """A CSV (or a block of one, after ``rows_before`` rows) parsed by pandas in one pass;
    _MalformedCsvError with ``fault``'s words for pandas' error, or _QuoteOpenError, when a row
    does not fit the header."""
    try:
        frame = pd.read_csv(source, **_TEXT_FIELDS, encoding="utf-8-sig", low_memory=False)
    except pd.errors.ParserError as error:
        error_type = _QuoteOpenError if _QUOTE_OPEN in str(error) else _MalformedCsvError
        raise _malformed_csv(location, fault(error), error_type) from None
    # A first row with more fields than the header makes pandas read the extra leading fields
    # as an index, without a word: every column would be shifted.
    if not isinstance(frame.index, pd.RangeIndex):
        fields = len(frame.columns) + frame.index.nlevels
        detail = f"row {rows_before + 1} has {fields} fields, the header {len(frame.columns)}"
        raise _malformed_csv(location, detail)
    return frame


def _csv_fault(error: pd.errors.ParserError) -> str:
    """pandas' words for a fault, its line numbers those of the file."""
    return str(error).strip().removeprefix("Error tokenizing data. C error: ")


def _block_fault(
    header: bytes, data: bytes, rows_before: int, *, last: bool
) -> Callable[[pd.errors.ParserError], str]:
    """The words for a fault in ``data``, a block of a CSV after ``rows_before`` rows: pandas'
    for the first block (``header`` empty), which starts the file; for another, whose lines
    pandas counts from the block's start, the fault's row is found and named instead (not for a
    quoted field still open before the ``last`` block: the block is read on, the words unseen)."""

    def fault(error: pd.errors.ParserError) -> str:
        detail = _csv_fault(error)
        if not header or (_QUOTE_OPEN in detail and not last):
            return detail
        row = rows_before + _rows_before_fault(header + data) + 1
        if wide := _PANDAS_TOO_WIDE.fullmatch(detail):
            return f"row {row} has {wide['saw']} fields, the header {wide['expected']}"
        if _QUOTE_OPEN in detail:
            return f"a quoted field opened in row {row} is never closed"
        return f"{detail} (row {row})"

    return fault


def _rows_before_fault(csv_text: bytes) -> int:
    """How many rows pandas reads from ``csv_text`` before the one it refuses (found by halving:
    only an error is read twice)."""
    low, high = 0, _after_last_row(csv_text)
    while low < high:
        middle = (low + high + 1) // 2
        try:
            pd.read_csv(io.BytesIO(csv_text), **_TEXT_FIELDS, nrows=middle)
        except pd.errors.ParserError:
            high = middle - 1
        else:
            low = middle
    return low


def _after_last_row(csv_text: bytes) -> int:
    return csv_text.count(b"\n") + csv_text.count(b"\r") + 1  # more than its rows


def _csv_header(first_block: bytes) -> bytes:
    """The file's header line as it starts its first block: the shortest start, ending at a
    line end, that pandas reads a header from (blank lines first, a quoted line break in a
    column name)."""
    end = 0
    while end < len(first_block):
        end = after_line_end(first_block, end)
        try:
            pd.read_csv(io.BytesIO(first_block[:end]), **_TEXT_FIELDS, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        return first_block[:end]
    return first_block


def _in_chunks(frames: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """``frames``' rows again, ``rows`` a frame, the last one fewer; a file without rows gives
    one empty frame with its columns."""
    held: pd.DataFrame | None = None
    any_yielded = False
    for frame in frames:
        if held is not None and len(held):
            frame = pd.concat([held, frame], ignore_index=True)
        whole = len(frame) - len(frame) % rows
        for start in range(0, whole, rows):
            any_yielded = True
            yield frame.iloc[start : start + rows]
        held = frame.iloc[whole:]
    if held is not None and (len(held) or not any_yielded):
        yield held


def _jsonl_chunks(stream: IO[bytes], location: Location, chunk_rows: int) -> Iterator[pd.DataFrame]:
    records: list[dict[str, Any]] = []
    read_any = False
    lines = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    for line_number, line in enumerate(lines, start=1):
        if line.strip():
            records.append(_json_record(line, line_number, location))
        if len(records) == chunk_rows:
            yield pd.DataFrame.from_records(records)
            records, read_any = [], True
    if not (records or read_any):
        raise DataError(f"{location} holds no JSON records.")
    if records:
        yield pd.DataFrame.from_records(records)


def _parquet_chunks(location: Location, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        with location.open("rb") as stream:
            parquet = pq.ParquetFile(stream)
            read_any = False
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                read_any = True
                yield batch.to_pandas()
            if not read_any:  # no rows: the columns still say what the file holds
                yield parquet.schema_arrow.empty_table().to_pandas()
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        if isinstance(error, SentimentOpsError):  # S3's failures, as storage words them
            raise
        raise DataError(
            f"{location} is not a readable Parquet file ({type(error).__name__}: {error}). "
            "Check the file or convert it again."
        ) from None


def _nul_in_csv(location: Location, line: int) -> DataError:
    # pandas' CSV parser ends a field at a NUL without a word: the review would be cut short.
    return _UnreadableBytesError(
        f"{location} holds a NUL byte on line {line}: a CSV of reviews never does, so the "
        "file is binary or corrupt. Check that it is the file you meant, or remove the NULs."
    )


def _malformed_csv(
    location: Location, detail: str, error_type: type[_MalformedCsvError] = _MalformedCsvError
) -> DataError:
    return error_type(
        f"{location} is not a well-formed CSV: {detail}. Every row needs as many fields as "
        "the header, and a review containing commas, quotes or line breaks must be enclosed "
        'in double quotes with inner quotes doubled (""). Fix the row or re-export the file.'
    )


def _readable_csv(location: Location) -> ReadableRows:
    """A CSV's rows, those predict rejects (NUL or undecodable bytes, a malformed record) set
    apart with its reasons and row numbers; a file without a missing value read by
    :func:`read_table`, unchanged, its text decoded once."""
    failure: DataError | None = None
    frame: pd.DataFrame | None = None
    try:
        frame = _read_table(location, "csv")
    except (_UnreadableBytesError, _MalformedCsvError) as error:
        failure = error  # read again, record by record, to find the rows at fault
    else:
        # pandas reads a row with too few fields as missing values, where predict rejects it:
        # only a file with a missing value may hold one.
        if not frame.isna().to_numpy().any():
            return ReadableRows(frame)
    text = _read_bytes(location).decode("utf-8-sig", "surrogateescape")
    header, rows = csv_rows(io.StringIO(text, newline=""), location)
    readable: list[list[str]] = []
    unreadable: list[UnreadableRow] = []
    for row_number, fields, reason, raw in rows:
        if fields is None:
            unreadable.append(UnreadableRow(row_number, str(reason), raw))
        else:
            readable.append(fields)
    if frame is not None and not unreadable:  # its missing values were only missing values
        return ReadableRows(frame)
    if unreadable and not readable:
        first = unreadable[0]
        if all(row.reason in ENCODING_PROBLEMS for row in unreadable):
            raise no_readable_row(location, first.row_number, first.reason)
        if isinstance(failure, _MalformedCsvError):
            raise failure  # pandas' words, as before
        raise _malformed_csv(
            location, f"no row can be read (row {first.row_number}: {first.reason})"
        )
    return ReadableRows(_parsed_as_a_file(header, readable), tuple(unreadable))


def _parsed_as_a_file(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
    """``rows`` (each as many fields as ``header``, none blank) as pandas reads a CSV holding
    only them: the same column names, missing values and types as a clean file would give."""
    text = io.StringIO()
    # Every field quoted: a lone \r inside one is no line end to pandas (csv quotes only \n).
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    text.seek(0)
    return pd.read_csv(text, **_TEXT_FIELDS)


def _readable_jsonl(raw: bytes, location: Location) -> ReadableRows:
    """A JSON Lines file's objects, the lines that are not one set apart with the reason; lines
    split and numbered as predict does (blank lines not counted)."""
    text = raw.decode("utf-8-sig", "surrogateescape")
    records, unreadable = [], []
    lines = (line for line in io.StringIO(text, newline="") if line.strip())
    for row_number, line in enumerate(lines, start=1):
        fields, reason = json_object(line)
        if fields is None:
            unreadable.append(UnreadableRow(row_number, str(reason), preview(line.rstrip("\r\n"))))
        else:
            records.append(fields)
    if not records and not unreadable:
        raise DataError(f"{location} holds no JSON records.")
    if not records:
        raise no_readable_row(location, unreadable[0].row_number, unreadable[0].reason)
    return ReadableRows(pd.DataFrame.from_records(records), tuple(unreadable))


def _json_record(line: str, line_number: int, location: Location) -> dict[str, Any]:
    """The object on a JSON Lines line; DataError naming the line when it holds none."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{location} line {line_number} is not valid JSON ({error.msg}). "
            "JSON Lines needs one complete JSON object per line."
        ) from None
    except RecursionError:  # [[[[...]]]] thousands deep: refused, not a crash
        raise DataError(
            f"{location} line {line_number} is nested too deeply to be a review record. "
            "JSON Lines needs one flat JSON object per line."
        ) from None
    if not isinstance(record, dict):
        raise DataError(
            f"{location} line {line_number} holds a JSON {type(record).__name__}, not an "
            'object. Write each review as {"review": "...", "sentiment": "..."}.'
        )
    return record


def canonical_columns(
    frame: pd.DataFrame,
    location: LocationLike,
    text_column: str,
    label_column: str,
    *,
    require_labels: bool = False,
) -> pd.DataFrame:
    """``frame`` with a fresh index, its text column named ``review`` and labels ``sentiment``;
    DataError when a column is missing (labels: with ``require_labels``, or when named other than
    ``sentiment``) or would be shadowed; BadInputError when one column is named for both."""
    _refuse_one_column_for_both(text_column, label_column)
    available = column_list(frame.columns)
    if text_column not in frame.columns:
        raise DataError(
            f"{location} has no text column '{text_column}' (columns: {available}). "
            "Name the column holding the review text with --text-column."
        )
    if require_labels and label_column not in frame.columns:
        raise DataError(
            f"{location} has no label column '{label_column}' (columns: {available}). Name the "
            "column holding the labels with --label-column, or validate reviews without "
            "labels with `sentimentops data validate --no-labels`."
        )
    # Only the default label column may be absent (unlabelled reviews); another was named.
    if label_column != LABEL_COLUMN and label_column not in frame.columns:
        raise DataError(
            f"{location} has no label column '{label_column}' (columns: {available}). Name the "
            "column holding the labels with --label-column, or leave it out for reviews without "
            "labels."
        )
    renames = {text_column: TEXT_COLUMN}
    if label_column in frame.columns:
        renames[label_column] = LABEL_COLUMN
    for source, target in renames.items():
        if source != target and target in frame.columns:
            raise DataError(
                f"{location} has both '{source}' and '{target}' columns; renaming '{source}' to "
                f"'{target}' would shadow one. Rename or drop one of them first."
            )
    return frame.rename(columns=renames).reset_index(drop=True)


def _refuse_one_column_for_both(text_column: str, label_column: str) -> None:
    """BadInputError when the text and label columns are one: its rename to ``sentiment`` would
    win, and the text would silently be read from a ``review`` column instead."""
    if text_column == label_column:
        raise BadInputError(
            f"The text and label columns must differ, but both are '{text_column}'. Name the "
            "column holding the review text with --text-column and the one holding the labels "
            "with --label-column."
        )
