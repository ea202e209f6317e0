"""Loading every supported layout into the canonical table, and clear errors on bad files."""

from __future__ import annotations

import codecs
import gzip
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sentimentops.data.load import (
    detect_format,
    load_readable_reviews,
    load_reviews,
    load_verified_parquet,
    read_expected_sha256,
    read_table,
    read_table_chunks,
)
from sentimentops.errors import BadInputError, ChecksumMismatchError, DataError
from sentimentops.monitoring.current import current_from_file
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


@pytest.mark.parametrize(
    ("text_column", "label_column"), [("sentiment", "sentiment"), ("review", "review")]
)
@pytest.mark.parametrize("reader", [load_reviews, load_readable_reviews, current_from_file])
def test_one_column_named_for_both_text_and_labels_is_refused(
    tmp_path: Path, reader: Callable[..., object], text_column: str, label_column: str
) -> None:
    path = tmp_path / "labelled.csv"
    path.write_text("review,sentiment\nGreat.,positive\n", encoding="utf-8")

    # Before, --text-column sentiment was dropped: the 'review' column was read as the text.
    with pytest.raises(BadInputError, match="text and label columns must differ") as raised:
        reader(path, text_column=text_column, label_column=label_column)
    assert raised.value.exit_code == 2


def test_a_named_label_column_must_exist_but_the_default_may_be_absent(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("review,sentiment\nGreat.,positive\n", encoding="utf-8")
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("review\nGreat.\n", encoding="utf-8")

    # Before, "foo" was ignored and the 'sentiment' column silently used as the labels.
    with pytest.raises(DataError, match=r"no label column 'foo' \(columns: review, sentiment\)"):
        load_reviews(labelled, label_column="foo")
    assert list(load_reviews(unlabelled).columns) == ["review"]  # unlabelled reviews


def test_readable_reviews_of_a_good_file_are_load_reviews(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(KAGGLE_CSV, encoding="utf-8")

    rows = load_readable_reviews(path)

    pd.testing.assert_frame_equal(rows.frame, load_reviews(path))
    assert rows.unreadable == ()


def test_undecodable_and_nul_csv_rows_are_set_apart_and_the_rest_read(tmp_path: Path) -> None:
    """A latin-1 CSV was refused whole for its one accented review."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b'review,sentiment\nA fine film.,positive\ncaf\xe9 was bad,negative\n"Two\nlines",pos\n'
        b"nul\x00byte,neg\nDull.,negative\n"
    )

    rows = load_readable_reviews(path)

    assert rows.frame["review"].tolist() == ["A fine film.", "Two\nlines", "Dull."]
    assert rows.frame["sentiment"].tolist() == ["positive", "pos", "negative"]
    assert [(row.row_number, row.reason, row.raw) for row in rows.unreadable] == [
        (2, "undecodable bytes (not UTF-8)", "caf? was bad,negative"),
        (4, "NUL byte in row", "nul?byte,neg"),  # a NUL breaks many CSV readers
    ]


def test_json_lines_that_are_not_objects_are_set_apart_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_bytes(
        b'{"review": "Fine.", "sentiment": "pos"}\n\n{"review": "cut short\n[1, 2]\n'
        b'{"review": "caf\xe9"}\n' + b"[" * 100_000 + b"\n"
        b'{"review": "Line\xe2\x80\xa8separator.", "sentiment": "neg"}\n'
    )

    rows = load_readable_reviews(path)

    assert rows.frame["review"].tolist() == ["Fine.", "Line\u2028separator."]
    assert [(row.row_number, row.reason) for row in rows.unreadable] == [
        (2, "invalid JSON (Invalid control character at)"),  # the line end, inside the string
        (3, "JSON line is not an object"),
        (4, "undecodable bytes (not UTF-8)"),
        (5, "invalid JSON (nested too deeply)"),
    ]
    assert rows.unreadable[0].raw == '{"review": "cut short'


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("utf16.csv", "review\nA film.\n".encode("utf-16"), "starts with UTF-16's byte-order"),
        ("utf16le.csv", "review\nA film.\n".encode("utf-16-le"), "header line holds NUL bytes"),
        ("binary.csv", bytes(range(256)) * 4, "header line holds NUL bytes"),
        ("latin1.csv", b"review\ncaf\xe9\nd\xe9j\xe0 vu\n", "no row can be read \\(row 1: undec"),
        ("utf16.jsonl", '{"review": "A film."}\n'.encode("utf-16"), "no row can be read"),
        ("words.jsonl", b"review\nA film.\n", r"no row can be read \(row 1: invalid JSON"),
    ],
)
def test_a_file_no_row_of_which_can_be_read_is_refused_whole(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DataError, match=f"^{re.escape(str(path))}.*{expected}"):
        load_readable_reviews(path)


def test_a_parquet_file_named_csv_is_refused_whole(tmp_path: Path) -> None:
    """Its first line may be clean bytes ("PAR1" and a few), so the header alone did not tell."""
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"review": ["x"], "sentiment": ["pos"]}).to_parquet(path)

    with pytest.raises(DataError, match=r"is a Parquet file, not CSV text: name it \.parquet"):
        load_readable_reviews(path)


def test_readable_reviews_still_refuse_a_csv_whose_rows_do_not_fit_its_header(
    tmp_path: Path,
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b'review,sentiment\ncaf\xe9,positive\n"bad",negative,extra\n')

    with pytest.raises(DataError, match="is not a well-formed CSV"):
        load_readable_reviews(path)


def write_every_format(frame: pd.DataFrame, folder: Path) -> list[Path]:
    """``frame`` as CSV, gzip CSV, JSON Lines and Parquet files in ``folder``."""
    paths = [folder / name for name in ("r.csv", "r.csv.gz", "r.jsonl", "r.parquet")]
    frame.to_csv(paths[0], index=False)
    with gzip.open(paths[1], "wt", encoding="utf-8", newline="") as stream:
        frame.to_csv(stream, index=False)
    frame.to_json(paths[2], orient="records", lines=True)
    frame.to_parquet(paths[3])
    return paths


def test_chunks_hold_at_most_chunk_rows_and_together_the_table(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    frame = reference_reviews.head(2_500)[["review", "sentiment", "rating"]]
    for path in write_every_format(frame, tmp_path):
        chunks = list(read_table_chunks(path, 1_000))

        assert [len(chunk) for chunk in chunks] == [1_000, 1_000, 500], path
        pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_table(path))


def test_chunks_of_a_file_without_rows_keep_its_columns(tmp_path: Path) -> None:
    csv, parquet = tmp_path / "r.csv", tmp_path / "r.parquet"
    csv.write_text("review,sentiment\n")
    pd.DataFrame({"review": pd.Series([], dtype=object)}).to_parquet(parquet)

    assert [list(chunk.columns) for chunk in read_table_chunks(csv)] == [["review", "sentiment"]]
    assert [list(chunk.columns) for chunk in read_table_chunks(parquet)] == [["review"]]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("far.csv", b"review\n" + b"fine\n" * 50_000 + b"caf\xe9\n", "byte 0xe9 on line 50002"),
        ("nul.csv", b"review\n" + b"fine\n" * 50_000 + b"n\x00l\n", "NUL byte on line 50002"),
        ("empty.csv", codecs.BOM_UTF8, "is empty"),
        ("broken.csv", b'review,sentiment\n"good",positive\n"a",b,c\n', r"line 3.*saw 3"),
        ("broken.jsonl", b'{"review": "ok"}\n{"review": ', "line 2 is not valid JSON"),
        ("list.jsonl", b'{"review": "ok"}\n\n["review"]\n', "line 3 holds a JSON list"),
        ("blank.jsonl", b"\n \n", "holds no JSON records"),
        ("broken.parquet", b"not parquet", "not a readable Parquet"),
        (
            "cut.csv.gz",
            damaged_gzip(gzip.compress(KAGGLE_CSV.encode() * 200), "truncated"),
            "trunc",
        ),
    ],
)
def test_chunks_raise_the_data_errors_of_a_whole_read(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DataError, match=expected):
        list(read_table_chunks(path, 1_000))
    with pytest.raises(DataError, match=expected):
        read_table(path)


def test_chunks_of_s3_files_are_those_of_local_ones(
    reference_reviews: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from tests.servers import moto_s3

    frame = reference_reviews.head(1_500)[["review", "sentiment"]]
    paths = write_every_format(frame, tmp_path)
    with moto_s3(monkeypatch):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="data")
        for path in paths:
            s3.upload_file(str(path), "data", path.name)
        remote = [list(read_table_chunks(f"s3://data/{path.name}", 1_000)) for path in paths]

    for path, chunks in zip(paths, remote, strict=True):
        local = list(read_table_chunks(path, 1_000))
        assert len(chunks) == len(local) == 2
        for theirs, ours in zip(chunks, local, strict=True):
            pd.testing.assert_frame_equal(theirs, ours)


@pytest.mark.parametrize("text", ["\x1c", "\u3000\n\u3000\n", " \n" * 600_000], ids=len)
def test_chunks_refuse_a_csv_of_blank_text_as_a_whole_read_does(tmp_path: Path, text: str) -> None:
    path = tmp_path / "blank.csv"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(DataError, match="is empty"):
        list(read_table_chunks(path, 1_000))


def test_json_lines_split_only_at_line_ends_as_predict_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"review": "Line\u2028and\x85next."}\n', encoding="utf-8")  # not escaped

    assert read_table(path)["review"].tolist() == ["Line\u2028and\x85next."]


def test_the_readable_rows_of_a_malformed_csv_are_those_of_a_file_holding_only_them(
    tmp_path: Path,
) -> None:
    """Missing values, "NA" text, quotes and line breaks, and column names as pandas reads them."""
    good = (
        'review,sentiment,\n"A joy, start to\nfinish.",positive,x\nNA,,\n'
        '"He said ""no"".",negative,\n"A lone carriage\rreturn.",positive,\n'
    )
    only_good, mixed = tmp_path / "good.csv", tmp_path / "mixed.csv"
    only_good.write_text(good, encoding="utf-8")
    lines = good.split("\n")  # the too-long row after the first, quoted over two lines
    mixed.write_text("\n".join([*lines[:3], "bad,row,with,extra", *lines[3:]]), encoding="utf-8")

    rows = load_readable_reviews(mixed)

    pd.testing.assert_frame_equal(rows.frame, load_reviews(only_good))
    assert [(row.row_number, row.reason, row.raw) for row in rows.unreadable] == [
        (2, "malformed CSV line: expected 3 fields, got 4", "bad,row,with,extra"),
    ]


def test_a_too_long_first_row_is_set_apart_not_read_as_an_index(tmp_path: Path) -> None:
    """pandas reads it without a word, its first field as the index: each review was shifted."""
    path = tmp_path / "reviews.csv"
    path.write_text('review,sentiment\n"Good.",positive,extra\n"Dull.",negative\n')

    rows = load_readable_reviews(path)

    assert rows.frame.to_dict("list") == {"review": ["Dull."], "sentiment": ["negative"]}
    assert [(row.row_number, row.reason) for row in rows.unreadable] == [
        (1, "malformed CSV line: expected 2 fields, got 3")
    ]


def test_blank_lines_of_a_malformed_csv_are_skipped_as_in_a_clean_one(tmp_path: Path) -> None:
    """Numbered as a clean file's rows are (pandas skips blank lines), so the two agree."""
    clean, broken = tmp_path / "clean.csv", tmp_path / "broken.csv"
    clean.write_text("\nreview\n\nGood.\n  \nDull.\n")
    broken.write_text("\nreview\n\nGood.\n  \nDull.\nto,o,many\n\t\nFine.\n")

    rows = load_readable_reviews(broken)

    assert load_readable_reviews(clean).frame["review"].tolist() == ["Good.", "Dull."]
    assert rows.frame["review"].tolist() == ["Good.", "Dull.", "Fine."]
    assert [row.row_number for row in rows.unreadable] == [3]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # pandas refused it first: its words, as before
        ('review,sentiment\nToo few\n"a",b,c\n', r"well-formed CSV: Expected 2 fields in line 3"),
        # pandas would read it with its first field as the index: refused as it is read
        ("review,sentiment\na,b,c\n", r"well-formed CSV: row 1 has 3 fields, the header 2"),
        # the undecodable bytes stopped pandas first
        (b'review,sentiment\ncaf\xe9,b\n"a",b,c\n', r"well-formed CSV: no row can be read \(row"),
    ],
)
def test_a_csv_none_of_whose_rows_can_be_read_is_still_refused_whole(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())

    with pytest.raises(DataError, match=f"^{re.escape(str(path))} is not a {expected}"):
        load_readable_reviews(path)


def test_a_first_row_with_more_fields_than_the_header_is_malformed_not_an_index(
    tmp_path: Path,
) -> None:
    """pandas reads such a row's extra leading fields as an index, without a word, and shifts
    every column: the sentiment was read as the review."""
    path = tmp_path / "shifted.csv"
    path.write_text("review,sentiment\nGreat film,positive,extra\nDull,negative\n")

    with pytest.raises(DataError, match="well-formed CSV: row 1 has 3 fields, the header 2"):
        read_table(path)
    with pytest.raises(DataError, match="row 1 has 3 fields"):
        list(read_table_chunks(path, 1))


def test_a_whole_read_finds_a_row_with_too_many_fields_where_pandas_starts_a_chunk(
    tmp_path: Path,
) -> None:
    """pandas' C parser reads 262,144 rows at a time inside one call and missed a wide row that
    started one of them (pandas-dev/pandas#11569): read_table parses in one pass."""
    rows = ["review,sentiment", *(["Fine,positive"] * 300_000)]
    rows[262_145] = "Dull,negative,extra"  # data row 262,145
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(rows) + "\n")

    with pytest.raises(DataError, match="Expected 2 fields in line 262146, saw 3"):
        read_table(path)


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_chunks_of_a_csv_read_in_blocks_are_its_rows_as_a_whole_read_gives_them(
    tmp_path: Path, line_end: str
) -> None:
    """A CSV is parsed a block of lines at a time, cut between records: reviews with line
    breaks, quotes, stray quotes and blank lines across the cuts are read as in one pass."""
    rows = [
        'A 5" screen and sharp,negative',  # a stray quote in an unquoted field: quotes unpaired
        f'"Part one{line_end}{line_end}part two.",positive',  # a blank line inside
        "",
        'plain ""quoted"" ' + "x" * 80 + ",positive",
    ]
    text = line_end.join(["review,sentiment", *(rows * 25_000)]) + line_end
    path = tmp_path / "reviews.csv"
    path.write_text(text, newline="")
    assert len(text) > 3 << 20  # read a mebibyte at a time: several blocks

    chunks = list(read_table_chunks(path, 1_000))

    assert {len(chunk) for chunk in chunks} == {1_000}
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_table(path))


@pytest.mark.parametrize("wide_row", [1, 1_000, 1_001, 1_002, 14_001, 30_000])
def test_chunks_refuse_a_row_with_too_many_fields_where_a_chunk_starts(
    tmp_path: Path, wide_row: int
) -> None:
    """pandas' chunked reader drops the extra fields of a chunk's first row without a word
    (pandas-dev/pandas#11569): the rows are parsed a block at a time, each in one pass."""
    rows = [f"Fine film number {number:05d} " + "x" * 60 + ",positive" for number in range(30_000)]
    rows[wide_row - 1] += ",extra"
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(["review,sentiment", *rows]) + "\n")

    with pytest.raises(DataError, match=rf"(row {wide_row} has 3|line {wide_row + 1}, saw 3)"):
        list(read_table_chunks(path, 1_000))


def test_a_review_of_many_lines_across_blocks_is_parsed_a_few_times_not_once_per_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quoted review spanning 20 blocks is parsed again only when its held lines have doubled
    (parsed at every block, a 30 MB review took 27 s to read)."""
    review = "A long, long review\n" * 1_000_000  # 20 MB, read a mebibyte at a time
    path = tmp_path / "long.csv"
    path.write_text(f'review,sentiment\n"Fine.",positive\n"{review}",negative\n"Dull.",negative\n')
    parses = 0
    read_csv = pd.read_csv

    def counted_read_csv(*args: Any, **kwargs: Any) -> pd.DataFrame:
        nonlocal parses
        parses += 1
        frame: pd.DataFrame = read_csv(*args, **kwargs)
        return frame

    monkeypatch.setattr(pd, "read_csv", counted_read_csv)

    chunks = list(read_table_chunks(path, 1_000))

    assert pd.concat(chunks)["review"].tolist() == ["Fine.", review, "Dull."]
    assert parses <= 12  # 20 blocks: 5-6 attempts as the held block doubles, and the header
