"""A current file is read in chunks and sampled as it is read: a bounded, seeded, uniform sample
of the rows with text, every row counted, and a file within the sample read whole as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.data.load import CHUNK_ROWS, canonical_columns, read_table
from sentimentops.errors import DataError
from sentimentops.monitoring.current import RowCounts, current_from_file
from sentimentops.monitoring.job import monitor_and_record

ROWS = 2 * CHUNK_ROWS + 5_000  # three chunks, the last one short


def numbered_reviews(path: Path, rows: int, *, blank_every: int = 0) -> Path:
    """Reviews numbered by their data row ("review 17"), every ``blank_every``-th one blank."""
    numbers = np.arange(1, rows + 1)
    reviews = pd.Series([f"review {number}" for number in numbers], dtype=object)
    if blank_every:
        reviews[numbers % blank_every == 0] = None
    pd.DataFrame({"review": reviews, "sentiment": "positive"}).to_csv(path, index=False)
    return path


def row_numbers(frame: pd.DataFrame) -> list[int]:
    return [int(text.removeprefix("review ")) for text in frame["review"]]


def test_a_file_past_the_sample_keeps_a_bounded_seeded_uniform_sample_in_file_order(
    tmp_path: Path,
) -> None:
    path = numbered_reviews(tmp_path / "reviews.csv", ROWS)

    first = current_from_file(path, sample_rows=1_000, seed=7)
    again = current_from_file(path, sample_rows=1_000, seed=7)
    other = current_from_file(path, sample_rows=1_000, seed=8)

    drawn = row_numbers(first.frame)
    assert len(drawn) == 1_000
    assert drawn == sorted(set(drawn))  # distinct rows, in the file's order
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert drawn != row_numbers(other.frame)
    assert list(first.frame.columns) == ["review", "sentiment"]  # no column of the draw's left
    # Uniform over the file, not the first chunk's rows: each chunk gives its share (the last
    # chunk holds 1/5 of the rows, so 200 of the draw; 14 is about one standard deviation).
    per_chunk = np.bincount((np.array(drawn) - 1) // CHUNK_ROWS, minlength=3)
    assert np.abs(per_chunk - 1_000 * np.array([0.4, 0.4, 0.2])).max() < 4 * 14


def test_the_sample_does_not_depend_on_the_chunk_boundaries(tmp_path: Path) -> None:
    """Each row draws its key in file order: a file read in other chunks gives the same rows."""
    path = numbered_reviews(tmp_path / "reviews.csv", 5_000)

    whole = current_from_file(path, sample_rows=300, seed=3)
    in_chunks = current_from_file(path, sample_rows=300, seed=3, chunk_rows=777)

    assert len(whole.frame) == 300
    assert row_numbers(in_chunks.frame) == row_numbers(whole.frame)


def test_every_row_is_counted_though_only_the_sample_is_kept(tmp_path: Path) -> None:
    path = numbered_reviews(tmp_path / "reviews.csv", ROWS, blank_every=10)

    current = current_from_file(path, sample_rows=1_000, seed=1)

    texts, counted = current.with_texts()
    assert len(texts) == 1_000
    assert counted == RowCounts(texts=ROWS - ROWS // 10, blank=ROWS // 10)
    assert current.rows == ROWS
    assert all(number % 10 for number in row_numbers(texts))  # the blank ones are not drawn


def test_a_file_within_the_sample_is_read_whole_and_in_order_as_before(tmp_path: Path) -> None:
    path = numbered_reviews(tmp_path / "reviews.csv", 3_000, blank_every=7)
    before = canonical_columns(read_table(path), path, "review", "sentiment")

    current = current_from_file(path, sample_rows=3_000, seed=5)

    with_text = before[before["review"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(current.frame, with_text)
    assert current.with_texts()[1] == RowCounts(texts=len(with_text), blank=3_000 // 7)


def test_versions_are_sampled_and_counted_each_on_their_own(tmp_path: Path) -> None:
    """A rare version keeps its own sample: one draw over all rows would leave it a handful."""
    path = tmp_path / "scored.csv"
    versions = np.where(np.arange(ROWS) % 50 == 0, "1", "2")  # 1 row in 50 by version 1
    frame = pd.DataFrame({"label": "positive", "score": 0.9, "model_version": versions})
    frame.to_csv(path, index=False)

    current = current_from_file(path, sample_rows=400, seed=2)
    mine, others = current.of_version("1")

    assert current.versions() == ["1", "2"]
    assert len(mine.frame) == 400
    assert (mine.rows, others) == (ROWS // 50, ROWS - ROWS // 50)


def test_a_monitoring_run_on_a_file_past_the_sample_reports_all_its_rows(
    model_folder: Path,
    held_out: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__SAMPLE_ROWS", "200")
    get_settings.cache_clear()
    repeats = -(-ROWS // len(held_out))
    window = pd.concat([held_out] * repeats, ignore_index=True).head(ROWS)
    window.loc[window.index % 100 == 0, "review"] = " "
    current, reference = tmp_path / "current.csv", tmp_path / "reference.csv"
    window.to_csv(current, index=False)
    held_out.head(300).to_csv(reference, index=False)

    outcome = monitor_and_record(
        get_settings(),
        model_uri=str(model_folder),
        current_location=str(current),
        reference_location=str(reference),
        output_dir=tmp_path / "report",
    )

    blank = ROWS // 100
    assert outcome.metrics.rows == ROWS - blank  # every row with text, not the 200 drawn
    assert outcome.metrics.labelled_rows == 200
    note = f"{blank:,} of {ROWS:,} current rows without review text (missing or blank) left out"
    summary = json.loads(outcome.summary_path.read_text())
    assert summary["metrics"]["rows"] == ROWS - blank
    assert any(note in text for text in summary["notes"]), summary["notes"]


WIDE_ROW_LENGTH = 120  # bytes a data row: the file spans three mebibytes, read one at a time


def reviews_with_a_wide_row(path: Path, rows: int, wide_row: int) -> Path:
    """``rows`` reviews of WIDE_ROW_LENGTH bytes each, data row ``wide_row`` with a third field."""
    filler = "x" * (WIDE_ROW_LENGTH - len("review 000000 ,positive\n"))
    lines = [f"review {number:06d} {filler},positive\n" for number in range(1, rows + 1)]
    lines[wide_row - 1] = lines[wide_row - 1].replace("\n", ",extra\n")
    path.write_text("review,sentiment\n" + "".join(lines))
    return path


def first_row_after(offset: int) -> int:
    """The data row that starts first at or after byte ``offset`` of such a file."""
    return -(-(offset - len("review,sentiment\n")) // WIDE_ROW_LENGTH) + 1


@pytest.mark.parametrize(
    "wide_row",
    [
        1,
        2,
        5_000,
        CHUNK_ROWS,
        CHUNK_ROWS + 1,  # the first row of the second chunk
        CHUNK_ROWS + 2,
        2 * CHUNK_ROWS + 1,
        first_row_after(1 << 20),
        first_row_after(2 << 20),
        ROWS,  # in the last chunk
    ],
)
def test_a_row_with_too_many_fields_is_refused_wherever_it_falls(
    tmp_path: Path, wide_row: int
) -> None:
    """pandas drops the extra field of a chunk's first row without a word
    (pandas-dev/pandas#11569): monitoring refused such a row in the first chunk only, and judged
    the rest of the file with the field dropped."""
    path = reviews_with_a_wide_row(tmp_path / "reviews.csv", ROWS, wide_row)
    # pandas' words within the first block read, ours past it
    named = rf"(row {wide_row} has 3 fields, the header 2|Expected 2 fields in line {wide_row + 1})"

    with pytest.raises(DataError, match=rf"is not a well-formed CSV: {named}"):
        current_from_file(path, sample_rows=1_000)


def test_a_review_longer_than_predicts_limit_is_left_out_counted_and_noted(
    tmp_path: Path,
) -> None:
    limit = get_settings().validation.max_text_chars
    path = numbered_reviews(tmp_path / "reviews.csv", 1_000)
    frame = pd.read_csv(path)
    frame.loc[499, "review"] = "y" * 330_000  # past predict's limit (100,000 characters)
    frame.to_csv(path, index=False)

    current = current_from_file(path)

    assert len(current.frame) == 999
    assert 500 not in row_numbers(current.frame)
    assert current.with_texts()[1] == RowCounts(texts=999, too_long=1)
    assert current.rows == 1_000
    assert current.notes == (
        f"1 of 1,000 current rows whose review is longer than validation.max_text_chars "
        f"({limit:,} characters) left out: neither scored nor described, as predict rejects them",
    )


def test_a_file_of_only_too_long_reviews_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("review\nfar too long\n\n", encoding="utf-8")

    with pytest.raises(DataError, match=r"longer than validation.max_text_chars \(5 characters"):
        current_from_file(path, max_text_chars=5)
