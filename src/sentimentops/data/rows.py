"""Why a row of a CSV or JSON Lines file cannot be read (NUL or undecodable bytes, broken JSON,
a malformed CSV record) and when the whole file cannot: one judgement for batch prediction's
rejects and validation's quarantine, so that both name the same rows with the same reasons."""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sentimentops.errors import DataError

__all__ = [
    "COLUMNS_SHOWN",
    "COLUMN_NAME_CHARS",
    "CSV_FIELD_LIMIT",
    "ENCODING_PROBLEMS",
    "NUL_BYTE",
    "PREVIEW_CHARS",
    "UNDECODABLE",
    "CsvRow",
    "column_list",
    "csv_rows",
    "decoding_problem",
    "json_object",
    "no_readable_row",
    "preview",
    "refuse_unreadable_header",
]

PREVIEW_CHARS = 200
NUL_BYTE = "NUL byte in row"
UNDECODABLE = "undecodable bytes (not UTF-8)"
ENCODING_PROBLEMS = (NUL_BYTE, UNDECODABLE)
CSV_FIELD_LIMIT = 50_000_000  # one review may be long; the csv default (128 KiB) is too small
# A header is the file's own: a message shows only this much of it, whatever its size.
COLUMNS_SHOWN, COLUMN_NAME_CHARS = 10, 40
# surrogateescape decodes each undecodable byte to one of these lone surrogates.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def decoding_problem(text: str) -> str | None:
    """:data:`NUL_BYTE` or :data:`UNDECODABLE` for a row decoded with surrogateescape, else None."""
    if "\x00" in text:
        return NUL_BYTE
    # Escaped bytes are non-ASCII: most rows are ASCII, and str.isascii() is a flag check.
    if not text.isascii() and _ESCAPED_BYTE.search(text):
        return UNDECODABLE
    return None


def json_object(line: str) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON Lines line's object, or None and why the line cannot be read."""
    if problem := decoding_problem(line):
        return None, problem
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"invalid JSON ({error.msg})"
    except RecursionError:  # [[[[...]]]] thousands deep: a hostile line, not a crash
        return None, "invalid JSON (nested too deeply)"
    if not isinstance(value, dict):
        return None, "JSON line is not an object"
    return value, None


def preview(text: str) -> str:
    """The start of a row as it can be shown and written: an undecodable byte or a NUL (which
    many CSV readers refuse) becomes ``?``, and a line end closing it is left out."""
    start = text[:PREVIEW_CHARS].rstrip("\r\n").replace("\x00", "?")
    return start.encode("utf-8", "replace").decode("utf-8")


def column_list(names: Iterable[object], *, quoted: bool = False) -> str:
    """A file's column names as a message shows them: the first :data:`COLUMNS_SHOWN`, each cut
    to :data:`COLUMN_NAME_CHARS` characters ("…" marks a cut), then "… and N more"; "none"
    for no column. With ``quoted``, each name in single quotes."""
    names = list(names)
    shown = [_cut_name(str(name)) for name in names[:COLUMNS_SHOWN]]
    listed = ", ".join(f"'{name}'" if quoted else name for name in shown) or "none"
    hidden = len(names) - len(shown)
    return f"{listed} … and {hidden:,} more" if hidden else listed


def _cut_name(name: str) -> str:
    return name if len(name) <= COLUMN_NAME_CHARS else name[: COLUMN_NAME_CHARS - 1] + "…"


def refuse_unreadable_header(line: str, location: object) -> None:
    """DataError for a CSV header line holding NUL or undecodable bytes, or starting a Parquet
    file: then the whole file is not UTF-8 text (binary, UTF-16, Parquet), not a few bad rows."""
    problem = decoding_problem(line)
    # Parquet's magic number, then binary: its first line may hold neither NULs nor bad bytes.
    if line.startswith("PAR1") and (problem or not line.isprintable()):
        raise DataError(
            f"{location} is a Parquet file, not CSV text: name it .parquet (or re-save it as "
            "UTF-8 CSV)."
        )
    if problem is None:
        return
    what = "holds NUL bytes" if problem == NUL_BYTE else "holds bytes that are not UTF-8"
    if line.startswith(("\udcff\udcfe", "\udcfe\udcff")):  # Excel's "Unicode text"
        what = "starts with UTF-16's byte-order mark"
    raise DataError(
        f"{location} is not UTF-8 text: its header line {what}. Re-save the file as UTF-8 CSV "
        "(or check that it is the file you meant)."
    )


def no_readable_row(location: object, row_number: int, reason: str) -> DataError:
    """The error for a file none of whose rows can be read, the first being ``row_number``: not
    UTF-8 text, or (any other reason is a JSON Lines one) not JSON Lines."""
    if reason in ENCODING_PROBLEMS:
        # Not one row decodes: the file is in another encoding, not a few bad rows.
        return DataError(
            f"{location} is not UTF-8 text: no row can be read (row {row_number}: {reason}). "
            "Re-save the file as UTF-8 (or check that it is the file you meant)."
        )
    return DataError(
        f"{location}: no row can be read (row {row_number}: {reason}). JSON Lines needs one "
        'JSON object per line, such as {"review": "...", "sentiment": "..."}: check that it '
        "is the file you meant."
    )


# A CSV data record: its 1-based number (the header not counted), its fields (as many as the
# header's) or None and why it cannot be read, and its start, its fields joined by commas. A plain
# tuple: predict makes one per row, and a NamedTuple made its reading a sixth slower.
CsvRow = tuple[int, list[str] | None, str | None, str]


def csv_rows(text: Iterable[str], location: object) -> tuple[list[str], Iterator[CsvRow]]:
    """A CSV's header, read now, and its data records, judged as they are read: NUL or
    undecodable bytes (``text`` decoded with surrogateescape), a ``csv.Error`` (strict quoting)
    or another number of fields than the header's make a record unreadable; a quote never
    closed swallows the rest of the file into one record. ``text`` yields lines with their
    line ends (``newline=""``). Blank lines are no records: skipped and not counted, as pandas
    and JSON Lines skip them. DataError for a file without a header, or one that is not UTF-8
    text (see :func:`refuse_unreadable_header`)."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    lines = _RecordLines(text)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
        while _blank(header):
            header = next(reader)
    except StopIteration:
        raise DataError(f"{location} is empty: a CSV needs a header line.") from None
    except csv.Error as error:
        raise DataError(
            f"{location}: the header line cannot be read ({error}). Check that it is a UTF-8 "
            "CSV file."
        ) from None
    refuse_unreadable_header(",".join(header), location)
    return header, _judged_csv_rows(reader, lines, len(header))


class _RecordLines:
    """The lines the csv reader takes, counting the quotes of the record it is reading and
    keeping its start, to show for a record the reader refuses."""

    def __init__(self, text: Iterable[str]) -> None:
        self._lines = iter(text)
        self.start_record()

    def start_record(self) -> None:
        self.quotes = 0
        self.head = ""

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.quotes += line.count('"')
        if len(self.head) < PREVIEW_CHARS:
            self.head += line[: PREVIEW_CHARS - len(self.head)]
        return line

    def skip_open_field(self) -> None:
        """Read on past the line that closes a quoted field still open (quotes counted odd)."""
        with contextlib.suppress(StopIteration):  # a field never closed ends with the file
            while self.quotes % 2:
                next(self)


_OVER_FIELD_LIMIT = "field larger than field limit"  # the csv module's words


def _judged_csv_rows(
    reader: Iterator[list[str]], lines: _RecordLines, width: int
) -> Iterator[CsvRow]:
    row_number = 0
    while True:
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # the reader goes on at the next line
            if _OVER_FIELD_LIMIT in str(error):
                # The rest of a long quoted review is skipped with it, not read line by line
                # as records of their own (a 60 MB review made 933,335 rejects).
                lines.skip_open_field()
            row_number += 1
            # Its start shows what it held: a quote left open takes the next rows with it.
            yield row_number, None, f"malformed CSV line ({error})", preview(lines.head)
            continue
        if _blank(row):
            continue
        row_number += 1
        raw = ",".join(row)
        if problem := decoding_problem(raw):
            yield row_number, None, problem, preview(raw)
        elif len(row) != width:
            reason = f"malformed CSV line: expected {width} fields, got {len(row)}"
            yield row_number, None, reason, preview(raw)
        else:
            yield row_number, row, None, preview(raw)


def _blank(row: list[str]) -> bool:
    """Whether a record is a line pandas skips: empty, or only spaces and tabs (quoted or not: the
    csv module does not tell; a quoted empty field, [""], is a row)."""
    return not row or (len(row) == 1 and row[0] != "" and not row[0].strip(" \t"))
