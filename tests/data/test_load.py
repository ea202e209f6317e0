"""Loading every supported layout into the canonical table, and clear errors on bad files."""

from __future__ import annotations

import codecs
import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.data.load import (
    detect_format,
    load_reviews,
    load_verified_parquet,
    read_expected_sha256,
)
from sentimentops.errors import ChecksumMismatchError, DataError
from tests.conftest import REFERENCE_CHECKSUM, REFERENCE_DATA

KAGGLE_CSV = (
    "review,sentiment\n"
    '"A joy, start to finish.<br /><br />Loved it.",positive\n'
    '"He said ""no"" and left. Boring.",negative\n'
    "NA,positive\n"
)


def test_kaggle_csv_keeps_quotes_commas_and_na_text(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(KAGGLE_CSV, encoding="utf-8")

    frame = load_reviews(path)

    assert list(frame.columns) == ["review", "sentiment"]
    assert frame["review"].tolist() == [
        "A joy, start to finish.<br /><br />Loved it.",
        'He said "no" and left. Boring.',
        "NA",  # a review may literally say NA; it is not a missing value
    ]
    assert frame["sentiment"].tolist() == ["positive", "negative", "positive"]


def test_gzip_csv_and_gzip_jsonl_read_like_plain(tmp_path: Path) -> None:
    plain = tmp_path / "reviews.csv"
    plain.write_text(KAGGLE_CSV, encoding="utf-8")
    packed = tmp_path / "reviews.csv.gz"
    packed.write_bytes(gzip.compress(KAGGLE_CSV.encode()))
    records = [{"review": "Great.", "sentiment": "pos"}, {"review": "Bad.", "sentiment": "neg"}]
    jsonl = tmp_path / "reviews.jsonl.gz"
    jsonl.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in records).encode()))

    pd.testing.assert_frame_equal(load_reviews(packed), load_reviews(plain))
    assert load_reviews(jsonl).to_dict("records") == records


def test_parquet_and_custom_column_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.parquet"
    pd.DataFrame({"text": ["good", "bad"], "label": [1, 0], "id": [10, 11]}).to_parquet(path)

    frame = load_reviews(path, text_column="text", label_column="label")

    assert list(frame.columns) == ["review", "sentiment", "id"]
    assert frame["sentiment"].tolist() == [1, 0]


def test_vendored_dataset_loads_with_checksum() -> None:
    frame = load_verified_parquet(REFERENCE_DATA, REFERENCE_CHECKSUM)

    assert len(frame) == 50_000
    assert {"review", "sentiment", "movie_id", "split", "rating", "review_id"} <= set(frame.columns)


def test_tampered_dataset_is_refused(tmp_path: Path) -> None:
    tampered = tmp_path / "imdb_reviews.parquet"
    shutil.copy(REFERENCE_DATA, tampered)
    with tampered.open("ab") as stream:
        stream.write(b"\0")

    with pytest.raises(ChecksumMismatchError, match="git checkout") as caught:
        load_verified_parquet(tampered, REFERENCE_CHECKSUM)
    assert read_expected_sha256(REFERENCE_CHECKSUM) in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            'review,sentiment\n"good",positive\n"bad",negative,extra\n',
            r"line 3.*saw 3",
            id="extra-field",
        ),
        pytest.param('review,sentiment\n"unclosed,positive\n', r"EOF inside string", id="quote"),
        pytest.param("", r"is empty", id="empty"),
    ],
)
def test_malformed_csv_names_the_file_and_problem(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DataError, match=expected) as caught:
        load_reviews(path)
    assert str(path) in str(caught.value)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("review,sentiment\ngood,positive\ncaf\xe9 bad,negative\n".encode("latin-1"))

    with pytest.raises(DataError, match=r"not UTF-8 text: byte 0xe9 on line 3"):
        load_reviews(path)


def test_binary_file_named_csv_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "picture.csv"
    path.write_bytes(bytes(range(256)) * 4)

    with pytest.raises(DataError, match="not UTF-8"):
        load_reviews(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.csv", None, "does not exist"),
        ("notes.txt", "hello", "Cannot tell the format"),
        ("nocolumn.csv", "text,label\nhi,1\n", r"no text column 'review' \(columns: text, label\)"),
        ("broken.parquet", "not parquet", "not a readable Parquet"),
        ("broken.jsonl", '{"review": "ok"}\n{"review": ', "line 2 is not valid JSON"),
        ("list.jsonl", '["review"]\n', "line 1 holds a JSON list"),
        ("corrupt.csv.gz", None, "gzip-compressed but is corrupt"),
    ],
)
def test_unreadable_inputs_raise_data_error(
    tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(b"review\nx\n")[:12])

    with pytest.raises(DataError, match=expected):
        load_reviews(path)


def damaged_gzip(packed: bytes, how: str) -> bytes:
    """``packed`` broken the ways a file breaks: cut short, or bytes changed on the way."""
    if how == "truncated":
        return packed[: len(packed) // 2]
    damaged = bytearray(packed)
    if how == "bad-header":
        damaged[2] = 7  # no such compression method
    else:
        damaged[20] ^= 0xFF  # inside the compressed data
    return bytes(damaged)


@pytest.mark.parametrize("how", ["truncated", "bad-header", "damaged-data"])
def test_a_broken_gzip_file_raises_data_error(tmp_path: Path, how: str) -> None:
    path = tmp_path / "reviews.csv.gz"
    path.write_bytes(damaged_gzip(gzip.compress(KAGGLE_CSV.encode() * 200), how))

    with pytest.raises(DataError, match="gzip-compressed but is corrupt or truncated"):
        load_reviews(path)


@pytest.mark.parametrize("text", ["\ufeff", "\x1c", "\x85 ", "\u3000"], ids=repr)
def test_a_csv_of_blank_text_is_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())  # the BOM is read as a BOM, not text

    with pytest.raises(DataError, match="is empty"):
        load_reviews(path)


def test_folder_that_is_not_aclimdb_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not the aclImdb layout"):
        detect_format(tmp_path)


def test_renaming_into_an_existing_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "both.csv"
    path.write_text("text,review,sentiment\na,b,positive\n", encoding="utf-8")

    with pytest.raises(DataError, match="both 'text' and 'review'"):
        load_reviews(path, text_column="text")


def test_a_named_label_column_must_exist_but_the_default_may_be_absent(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("review,sentiment\nGreat.,positive\n", encoding="utf-8")
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("review\nGreat.\n", encoding="utf-8")

    # Before, "foo" was ignored and the 'sentiment' column silently used as the labels.
    with pytest.raises(DataError, match=r"no label column 'foo' \(columns: review, sentiment\)"):
        load_reviews(labelled, label_column="foo")
    assert list(load_reviews(unlabelled).columns) == ["review"]  # unlabelled reviews
