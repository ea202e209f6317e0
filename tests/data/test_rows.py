"""One judgement of unreadable rows: validation quarantines the rows predict rejects, for the same
reasons, and both refuse a file that is not text."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.batch.options import BatchOptions
from sentimentops.batch.source import Source
from sentimentops.data import rows
from sentimentops.data.load import load_readable_reviews
from sentimentops.data.rows import json_object, refuse_unreadable_header
from sentimentops.errors import DataError
from sentimentops.monitoring.current import current_from_file

BAD_ROWS = {
    "reviews.csv": (
        b"review,sentiment\nA fine film.,positive\ncaf\xe9 was bad,negative\n"
        b'"Two\nlines",pos\nnul\x00byte,neg\n\xff\xfe,neg\nDull.,negative\n'
    ),
    "reviews.jsonl": (
        b'{"review": "Fine.", "sentiment": "pos"}\n\n{"review": "cut short\n'
        b'"just a string"\n{"review": "caf\xe9"}\n{"review": "nul\x00"}\n'
        b'{"review": "Dull.", "sentiment": "neg"}\r\n'
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_validation_sets_apart_the_rows_predict_rejects_with_the_same_reasons(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_ROWS[name])

    rows = load_readable_reviews(path)
    rejected = [record for record in Source(str(path), BatchOptions()).records() if record.reason]

    assert len(rows.unreadable) >= 3
    assert [(row.row_number, row.reason, row.raw) for row in rows.unreadable] == [
        (record.row_number, record.reason, record.raw.rstrip("\r\n")) for record in rejected
    ]
    assert rows.frame["review"].tolist()[-1] == "Dull."


LONG_NAME = "x" * 1_000_000
MANY_NAMES = [f"col{number}" for number in range(10_000)]
# Every reader that names a file's columns in a message: data validate, monitor, predict.
COLUMN_READERS: dict[str, Callable[[Path], object]] = {
    "validate": lambda path: load_readable_reviews(path),
    "validate labels": lambda path: load_readable_reviews(
        path, text_column=MANY_NAMES[0], require_labels=True
    ),
    "monitor": lambda path: current_from_file(path),
    "predict": lambda path: Source(str(path), BatchOptions()),
    "predict id": lambda path: Source(
        str(path), BatchOptions(text_column=MANY_NAMES[0], id_column="id", require_id_column=True)
    ),
}


@pytest.mark.parametrize("reader", sorted(COLUMN_READERS))
def test_a_message_naming_the_columns_stays_short_whatever_the_header(
    tmp_path: Path, reader: str
) -> None:
    path = tmp_path / "many.csv"
    path.write_text(",".join(MANY_NAMES) + "\n" + ",".join("1" for _ in MANY_NAMES) + "\n")

    with pytest.raises(DataError) as raised:
        COLUMN_READERS[reader](path)

    message = str(raised.value)
    assert "(columns: col0, col1, " in message
    assert "col9 … and 9,990 more)" in message
    assert "col10" not in message
    assert len(message) < 400


@pytest.mark.parametrize("reader", ["validate", "monitor", "predict"])
def test_a_huge_column_name_is_cut_short_in_the_message(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(LONG_NAME)  # one line, no newline: the header is the whole file

    with pytest.raises(DataError) as raised:
        COLUMN_READERS[reader](path)

    assert "(columns: xxxxxxxxxx" in str(raised.value)
    assert "x…)" in str(raised.value)
    assert len(str(raised.value)) < 400


def test_a_huge_repeated_column_name_is_cut_short_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "repeated.csv"
    path.write_text(f"{LONG_NAME},{LONG_NAME},review\n1,2,Fine.\n")

    with pytest.raises(DataError, match=r"names the column 'x+…' more than once") as raised:
        Source(str(path), BatchOptions())

    assert len(str(raised.value)) < 400


def test_json_object_names_why_a_line_is_not_a_record() -> None:
    assert json_object('{"review": "Fine."}\n') == ({"review": "Fine."}, None)
    assert json_object("[1]") == (None, "JSON line is not an object")
    assert json_object("{") == (
        None,
        "invalid JSON (Expecting property name enclosed in double quotes)",
    )
    assert json_object('{"a": "\x00"}') == (None, "NUL byte in row")
    assert json_object("[" * 100_000) == (None, "invalid JSON (nested too deeply)")


def test_a_parquet_file_whose_first_line_is_clean_is_named_so_for_predict_too(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"review": ["x"], "sentiment": ["pos"]}).to_parquet(path)
    first_line = path.read_bytes().split(b"\n")[0]
    assert b"\x00" not in first_line  # the case the header check used to miss

    with pytest.raises(DataError, match=r"is a Parquet file, not CSV text: name it \.parquet"):
        Source(str(path), BatchOptions())
    refuse_unreadable_header("PAR1,review", path)  # a CSV column may be named so


@pytest.fixture
def small_field_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The CSV field limit at 1,000 characters (the process-wide limit restored after)."""
    limit = csv.field_size_limit()
    monkeypatch.setattr(rows, "CSV_FIELD_LIMIT", 1_000)
    yield 1_000
    csv.field_size_limit(limit)


def test_a_quoted_review_over_the_field_limit_is_one_reject_and_the_rows_after_keep_their_number(
    tmp_path: Path, small_field_limit: int
) -> None:
    """The rest of the review, line by line, was read as rows of their own: a 60 MB review of
    short lines made 933,335 rejects, and every row after it was numbered wrong."""
    long_review = 'A "great" film\n' * small_field_limit  # quotes and line breaks inside
    quoted = '"' + long_review.replace('"', '""') + '"'
    path = tmp_path / "reviews.csv"
    path.write_text(
        f"review,sentiment\nFine.,positive\n{quoted},negative\n"
        "Dull.,negative\n"
        '"Two\nlines.",positive\n'
    )

    readable = load_readable_reviews(path)
    records = list(Source(str(path), BatchOptions()).records())

    assert not readable.unreadable  # pandas has no field limit: validate reads it
    assert readable.frame["review"].tolist() == ["Fine.", long_review, "Dull.", "Two\nlines."]
    assert [(record.row_number, record.reason is None) for record in records] == [
        (1, True), (2, False), (3, True), (4, True)
    ]  # fmt: skip


def test_a_record_the_csv_reader_refuses_shows_its_start_and_the_rows_it_took(
    tmp_path: Path,
) -> None:
    """A quote left open takes the next row into its record; its reject showed nothing of
    either, so a user could not tell which review was lost."""
    path = tmp_path / "reviews.csv"
    path.write_text('review,sentiment\n"unclosed quote,positive\n"ok film",positive\nDull.,neg\n')

    records = list(Source(str(path), BatchOptions()).records())

    swallowed = '"unclosed quote,positive\n"ok film",positive'
    assert [(record.row_number, record.reason, record.raw) for record in records] == [
        (1, "malformed CSV line (',' expected after '\"')", swallowed),
        (2, None, "Dull.,neg"),
    ]
