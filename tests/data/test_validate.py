"""Validation: every row ends valid or quarantined with a reason; the report tells the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentimentops.config import ValidationSettings
from sentimentops.data.validate import normalise_labels, validate_reviews
from sentimentops.errors import DataValidationError

DEFAULTS = ValidationSettings()


def bad_rows_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review": [
                "A fine film.",  # 1 valid
                None,  # 2 missing text
                "   \n\t",  # 3 whitespace only
                "<br /><br /> <p></p>",  # 4 empty after HTML removal
                "x" * 51,  # 5 too long (limit 50 below)
                12345,  # 6 not a string
                "Loved it.",  # 7 unknown label
                "Hated it.",  # 8 missing label
                "A fine film.",  # 9 duplicate of row 1, valid by default
                "Good &amp; fun",  # 10 valid
            ],
            "sentiment": [
                "positive",
                "negative",
                "positive",
                "negative",
                "positive",
                "negative",
                "meh",
                None,
                "POS",
                1,
            ],
        }
    )


def test_each_kind_of_bad_row_is_quarantined_with_its_reason() -> None:
    result = validate_reviews(bad_rows_frame(), ValidationSettings(max_text_chars=50))

    reasons = dict(zip(result.quarantined["row_number"], result.quarantined["reason"], strict=True))
    assert reasons == {
        2: "missing value",
        3: "text is empty or whitespace only",
        4: "text is empty after HTML removal",
        5: "text is longer than the maximum length",
        6: "text is not a string",
        7: "unknown label (accepted: positive/negative, pos/neg, 1/0)",
        8: "missing value",
    }
    columns = dict(zip(result.quarantined["row_number"], result.quarantined["column"], strict=True))
    assert columns[7] == columns[8] == "sentiment"
    assert columns[2] == "review"
    assert result.quarantined.loc[result.quarantined["row_number"] == 7, "value"].item() == "meh"


def test_valid_plus_quarantined_is_every_input_row() -> None:
    frame = bad_rows_frame()
    result = validate_reviews(frame, ValidationSettings(max_text_chars=50))

    assert len(result.valid) + len(result.quarantined) == len(frame)
    kept = set(result.valid.index) | {n - 1 for n in result.quarantined["row_number"]}
    assert kept == set(frame.index)
    assert result.report.rows == 10
    assert result.report.valid_rows == 3
    assert result.report.quarantined_rows == 7


def test_labels_are_normalised_and_counted() -> None:
    result = validate_reviews(bad_rows_frame(), ValidationSettings(max_text_chars=50))

    assert result.valid["sentiment"].tolist() == ["positive", "positive", "positive"]
    assert result.report.label_counts == {"negative": 0, "positive": 3}
    assert result.report.minority_label_share == 0.0
    assert any("imbalanced" in warning for warning in result.report.warnings)


def test_label_spellings() -> None:
    labels = pd.Series(["Positive", " neg ", 1, 0, 1.0, "0", True, "maybe", None])

    assert normalise_labels(labels).tolist() == [
        "positive",
        "negative",
        "positive",
        "negative",
        "positive",
        "negative",
        True,  # booleans are ambiguous: left as is, so validation reports them
        "maybe",
        None,
    ]


def test_duplicates_are_reported_and_optionally_quarantined() -> None:
    frame = bad_rows_frame()
    kept = validate_reviews(frame, ValidationSettings(max_text_chars=50))
    quarantined = validate_reviews(
        frame, ValidationSettings(max_text_chars=50, quarantine_duplicates=True)
    )

    assert kept.report.duplicate_rows == 1
    assert 9 not in set(kept.quarantined["row_number"])
    reason_of_9 = quarantined.quarantined.set_index("row_number").loc[9, "reason"]
    assert reason_of_9 == "exact duplicate of an earlier row"


def test_unlabelled_data_validates_without_labels() -> None:
    frame = pd.DataFrame({"review": ["good", "", "bad"]})

    result = validate_reviews(frame, DEFAULTS, require_labels=False)

    assert result.report.valid_rows == 2
    assert result.quarantined["row_number"].tolist() == [2]


def test_labels_required_but_column_missing_is_a_fault_of_the_file() -> None:
    """Not every row quarantined alike, with exit 0: the file is refused, saying how to
    validate reviews without labels."""
    with pytest.raises(DataValidationError, match=r"reviews.csv has no 'sentiment' column"):
        validate_reviews(pd.DataFrame({"review": ["good", "bad"]}), DEFAULTS, source="reviews.csv")


def test_reference_dataset_report(reference_reviews: pd.DataFrame) -> None:
    result = validate_reviews(reference_reviews, DEFAULTS, source="imdb")
    report = result.report.to_dict()

    assert report["rows"] == 50_000
    assert report["valid_rows"] == 50_000
    assert report["duplicate_rows"] == 418
    assert report["label_counts"] == {"negative": 25_000, "positive": 25_000}
    assert report["length"]["chars"]["max"] == 13_704
    assert report["length"]["chars"]["min"] == 32


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats()),
            st.one_of(st.none(), st.sampled_from(["positive", "neg", "1", "x", ""]), st.integers()),
        ),
        max_size=30,
    )
)
def test_no_row_is_ever_lost(rows: list[tuple[object, object]]) -> None:
    frame = pd.DataFrame(rows, columns=["review", "sentiment"], dtype=object)

    result = validate_reviews(frame, DEFAULTS)

    assert result.report.valid_rows + result.report.quarantined_rows == len(frame)
    positions = np.concatenate(
        [frame.index.get_indexer(result.valid.index), result.quarantined["row_number"] - 1]
    )
    assert sorted(positions.tolist()) == list(range(len(frame)))


@pytest.mark.parametrize("max_chars", [5, 100])
def test_maximum_length_comes_from_settings(max_chars: int) -> None:
    frame = pd.DataFrame({"review": ["ten chars!"], "sentiment": ["positive"]})

    result = validate_reviews(frame, ValidationSettings(max_text_chars=max_chars))

    assert result.report.valid_rows == (1 if max_chars >= 10 else 0)


def test_unreadable_rows_are_quarantined_counted_and_number_the_rows_around_them() -> None:
    """Rows 2 and 5 of a file could not be read: the others keep their own row numbers."""
    from sentimentops.data.load import UnreadableRow

    readable = pd.DataFrame(
        {"review": ["Fine.", "Dull.", None, "Great."], "sentiment": ["pos", "neg", "pos", "pos"]}
    )
    unreadable = [
        UnreadableRow(2, "invalid JSON (Expecting value)", "not json"),
        UnreadableRow(5, "undecodable bytes (not UTF-8)", "caf? bad"),
    ]

    result = validate_reviews(readable, DEFAULTS, unreadable=unreadable)

    quarantined = result.quarantined
    assert quarantined["row_number"].tolist() == [2, 4, 5]  # the missing text was data row 4
    assert quarantined["reason"].tolist() == [
        "invalid JSON (Expecting value)",
        "missing value",
        "undecodable bytes (not UTF-8)",
    ]
    assert quarantined["value"].tolist()[::2] == ["not json", "caf? bad"]
    report = result.report
    assert (report.rows, report.valid_rows, report.quarantined_rows) == (6, 3, 3)
    assert report.quarantine_reasons == {
        "invalid JSON (Expecting value)": 1,
        "missing value": 1,
        "undecodable bytes (not UTF-8)": 1,
    }
    assert "2 rows could not be read (not UTF-8, NUL bytes, broken JSON or CSV)" in report.warnings


def test_unreadable_row_numbers_must_fit_the_file() -> None:
    from sentimentops.data.load import UnreadableRow

    frame = pd.DataFrame({"review": ["Fine."], "sentiment": ["pos"]})
    with pytest.raises(ValueError, match="must be distinct data rows of the same file"):
        validate_reviews(frame, DEFAULTS, unreadable=[UnreadableRow(7, "NUL byte in row", "")])


def test_warnings_count_one_row_in_the_singular() -> None:
    from sentimentops.data.load import UnreadableRow

    readable = pd.DataFrame(
        {"review": ["A fine film.", "A fine film.", "Dull."], "sentiment": ["positive"] * 3}
    )
    unreadable = [UnreadableRow(2, "undecodable bytes (not UTF-8)", "caf? bad")]

    warnings = validate_reviews(readable, DEFAULTS, unreadable=unreadable).report.warnings

    assert "1 row could not be read (not UTF-8, NUL bytes, broken JSON or CSV)" in warnings
    assert any(warning.startswith("1 row repeats the text of an earlier") for warning in warnings)
    assert "1 row quarantined" in warnings  # the unreadable one: a repeat is kept by default


@pytest.mark.parametrize(
    ("reviews", "warning"),
    [([], "no rows: the file holds none to validate"), (["", "  "], "no row is valid")],
    ids=["header only", "all quarantined"],
)
def test_a_file_without_a_valid_row_says_so(reviews: list[str], warning: str) -> None:
    """A header-only CSV reported 0 rows, exit 0, and no warning at all."""
    frame = pd.DataFrame({"review": pd.Series(reviews, dtype=object)})

    report = validate_reviews(frame, ValidationSettings(), require_labels=False).report

    assert (report.rows, report.valid_rows) == (len(reviews), 0)
    assert warning in report.warnings
