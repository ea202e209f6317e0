"""One judgement of unreadable rows: validation quarantines the rows predict rejects, for the same
reasons, and both refuse a file that is not text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentimentops.batch.options import BatchOptions
from sentimentops.batch.source import Source
from sentimentops.data.load import load_readable_reviews
from sentimentops.data.rows import json_object, refuse_unreadable_header
from sentimentops.errors import DataError

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
