"""The input of a batch run: a file that is not UTF-8 CSV text, or whose header names a column
twice or lacks the text column, is refused whole; a bad row inside a good file is a record with a
reason."""

from __future__ import annotations

from collections.abc import Callable
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
