"""The input of a batch run: a file that is not UTF-8 CSV text, or whose header names a column
twice or lacks the text column, is refused whole; a bad row inside a good file is a record with a
reason."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentimentops.batch.options import BatchOptions
from sentimentops.batch.source import Source
from sentimentops.errors import DataError

# Every review has a character outside ASCII, so none of them is UTF-8 in latin-1.
REVIEWS = pd.DataFrame(
    {"id": [1, 2, 3], "review": ["Un film très réussi.", "Déçu.", "Génial, à voir."]}
)
RESAVE = "Re-save the file as UTF-8"

NOT_UTF8: dict[str, tuple[Callable[[Path], None], str]] = {
    # Excel's "Unicode text" and pandas' encoding="utf-16": a BOM, then NULs between ASCII bytes.
    "utf-16": (
        lambda path: REVIEWS.to_csv(path, index=False, encoding="utf-16"),
        "its header line starts with UTF-16's byte-order mark. " + RESAVE,
    ),
    "utf-16-without-bom": (
        lambda path: REVIEWS.to_csv(path, index=False, encoding="utf-16-le"),
        "its header line holds NUL bytes. " + RESAVE,
    ),
    "latin-1-header": (
        lambda path: REVIEWS.rename(columns={"id": "numéro"}).to_csv(
            path, index=False, encoding="latin-1"
        ),
        "its header line holds bytes that are not UTF-8. " + RESAVE,
    ),
    "latin-1-rows": (
        lambda path: REVIEWS.to_csv(path, index=False, encoding="latin-1"),
        "no row can be read \\(row 1: undecodable bytes \\(not UTF-8\\)\\). " + RESAVE,
    ),
    "binary": (
        lambda path: path.write_bytes(bytes((index * 97 + 200) % 256 for index in range(4096))),
        "its header line holds NUL bytes. " + RESAVE,
    ),
    "parquet-named-csv": (
        lambda path: REVIEWS.to_parquet(path),
        "is a Parquet file, not CSV text: name it .parquet",
    ),
}


@pytest.mark.parametrize("kind", sorted(NOT_UTF8))
def test_a_file_that_is_not_utf8_csv_text_is_refused_whole(tmp_path: Path, kind: str) -> None:
    """Each was read as rows that were all rejected: exit 0 and an empty output."""
    write, message = NOT_UTF8[kind]
    path = tmp_path / "reviews.csv"
    write(path)

    with pytest.raises(DataError, match=f"^{path} .*{message}"):
        Source(str(path), BatchOptions())


def test_an_undecodable_row_in_a_good_file_stays_a_record_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"id,review\n1,caf\xe9 was bad\n2,A wonderful film.\n3,nul\x00byte\n")

    source = Source(str(path), BatchOptions())

    assert source.key == "id"  # judged on row 2, the first readable one
    reasons = [(record.row_number, record.reason) for record in source.records()]
    assert reasons == [(1, "undecodable bytes (not UTF-8)"), (2, None), (3, "NUL byte in row")]


def test_a_header_without_rows_is_judged_for_its_columns(tmp_path: Path) -> None:
    """Without a readable row the columns went unchecked: exit 0 on a file of the wrong kind."""
    wrong, right = tmp_path / "wrong.csv", tmp_path / "right.csv"
    wrong.write_text("text,sentiment\n")
    right.write_text("id,review\n")

    with pytest.raises(DataError, match="has no text column 'review' \\(columns: text, sentiment"):
        Source(str(wrong), BatchOptions())
    with pytest.raises(DataError, match="has no id column 'key' \\(columns: id, review\\)"):
        Source(str(right), BatchOptions(id_column="key", require_id_column=True))
    source = Source(str(right), BatchOptions())
    assert source.key == "id"
    assert list(source.records()) == []


def test_a_parquet_file_without_rows_is_judged_by_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "reviews.parquet"
    pd.DataFrame({"text": pd.Series([], dtype="object")}).to_parquet(path)

    with pytest.raises(DataError, match="has no text column 'review' \\(columns: text\\)"):
        Source(str(path), BatchOptions())


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("review,review,sentiment", "names the column 'review' more than once"),
        ("id,review,id,review", "names the columns 'id', 'review' more than once"),
    ],
)
def test_a_csv_header_naming_a_column_twice_is_refused(
    tmp_path: Path, header: str, message: str
) -> None:
    """The last of the two used to be scored without a word."""
    path = tmp_path / "reviews.csv"
    path.write_text(f"{header}\n" + ",".join(["A wonderful film."] * header.count(",")) + ",x\n")

    with pytest.raises(DataError, match=f"^{path} {message}. Rename or remove"):
        Source(str(path), BatchOptions())


def test_a_parquet_file_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reviews.parquet"
    texts = pa.array(["A wonderful film.", "Awful."])
    pq.write_table(pa.Table.from_arrays([texts, texts], names=["review", "review"]), path)

    with pytest.raises(DataError, match="names the column 'review' more than once"):
        Source(str(path), BatchOptions())


def test_unnamed_columns_are_not_repeats(tmp_path: Path) -> None:
    """A spreadsheet's trailing empty columns name nothing: they are no column given twice."""
    path = tmp_path / "reviews.csv"
    path.write_text("id,review,,\n1,A wonderful film.,,\n")

    records = list(Source(str(path), BatchOptions()).records())

    assert [record.fields for record in records] == [
        {"id": "1", "review": "A wonderful film.", "": ""}
    ]


# Each kind of row predict rejects, between good ones: a review over two lines, a too-long row,
# a too-short one, a NUL, a latin-1 byte, a stray quote, and a quote never closed (the end).
MIXED_CSV = (
    b'review,sentiment\n"A fine film, twice\nover.",positive\nToo,many,fields\n'
    b"Too few\nnul\x00byte,negative\ncaf\xe9 was bad,negative\n"
    b'"A stray "quote" inside",positive\nDull.,negative\n"never closed,positive\nlost,negative\n'
)


@dataclass(frozen=True)
class Judged:
    """One CSV as predict's source and data validate see it."""

    rejected: list[tuple[int, str]]  # predict's (row number, reason)
    quarantined: list[tuple[int, str]]  # validate's
    accepted: list[str]  # the reviews predict scores
    valid: list[str]  # the reviews validate keeps
    records: int  # predict's rows in
    rows: int  # validate's rows


def judged_by_predict_and_validate(path: Path, content: bytes) -> Judged:
    """``content`` written to ``path`` (gzipped for ``.gz``), then read by both."""
    from sentimentops.config import ValidationSettings
    from sentimentops.data.load import load_readable_reviews
    from sentimentops.data.validate import validate_reviews

    path.write_bytes(gzip.compress(content) if path.name.endswith(".gz") else content)
    records = list(Source(str(path), BatchOptions()).records())
    rows = load_readable_reviews(path, require_labels=True)
    result = validate_reviews(rows.frame, ValidationSettings(), unreadable=rows.unreadable)
    return Judged(
        rejected=[(record.row_number, str(record.reason)) for record in records if record.reason],
        quarantined=[
            (int(number), str(reason))
            for number, reason in result.quarantined[["row_number", "reason"]].to_numpy()
        ],
        accepted=[record.fields["review"] for record in records if record.fields],
        valid=result.valid["review"].tolist(),
        records=len(records),
        rows=result.report.rows,
    )


@pytest.mark.parametrize("name", ["mixed.csv", "mixed.csv.gz"])
def test_data_validate_quarantines_the_rows_predict_rejects_with_its_numbers_and_reasons(
    tmp_path: Path, name: str
) -> None:
    """validate refused such a file whole (a row with more fields than the header)."""
    judged = judged_by_predict_and_validate(tmp_path / name, MIXED_CSV)

    assert (
        judged.quarantined
        == judged.rejected
        == [
            (2, "malformed CSV line: expected 2 fields, got 3"),
            (3, "malformed CSV line: expected 2 fields, got 1"),
            (4, "NUL byte in row"),
            (5, "undecodable bytes (not UTF-8)"),
            (6, "malformed CSV line (',' expected after '\"')"),
            (8, "malformed CSV line (unexpected end of data)"),  # to the end of the file
        ]
    )
    assert judged.valid == judged.accepted == ["A fine film, twice\nover.", "Dull."]
    assert judged.rows == judged.records == 8


@pytest.mark.parametrize("name", ["short.csv", "short.csv.gz"])
def test_blank_lines_are_no_rows_and_a_short_row_is_rejected_by_predict_and_validate_alike(
    tmp_path: Path, name: str
) -> None:
    """validate read a file whose only fault is a short row as clean (a missing label) and
    skipped blank lines, which predict rejected: their row numbers differed after one. A blank
    line before the header left predict without columns."""
    content = b"\nreview,sentiment\nA fine film.,positive\n\n  \nToo few\nDull.,negative\n\n"

    judged = judged_by_predict_and_validate(tmp_path / name, content)

    expected = [(2, "malformed CSV line: expected 2 fields, got 1")]
    assert judged.quarantined == judged.rejected == expected
    assert judged.valid == judged.accepted == ["A fine film.", "Dull."]
    assert judged.rows == judged.records == 3


def test_a_csv_with_missing_values_but_no_short_row_reads_as_pandas_reads_it(
    tmp_path: Path,
) -> None:
    """A missing value sends the file record by record; its rows must come out unchanged."""
    from sentimentops.data.load import load_readable_reviews, load_reviews

    path = tmp_path / "unlabelled.csv"
    path.write_text('review,sentiment\nA fine film.,\n"",negative\n"Dull, long.",negative\n')

    rows = load_readable_reviews(path)

    assert rows.unreadable == ()
    pd.testing.assert_frame_equal(rows.frame, load_reviews(path))
