"""What a batch run refuses before it loads a model, and that it writes nothing doing so."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from sentimentops.batch.job import check_job
from sentimentops.batch.options import BatchOptions
from sentimentops.errors import BadInputError, DataError
from tests.servers import moto_s3

REVIEWS = "id,review\n1,A wonderful film.\n2,Awful.\n"


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text(REVIEWS)
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("reviews.csv/x.csv", "reviews.csv is a file, not a folder"),
        ("reviews.csv/deeper/x.csv", "reviews.csv is a file, not a folder"),
        ("reviews.csv", "would overwrite the input"),
        ("folder.csv", "is a folder: name a file in it"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused(
    reviews: Path, tmp_path: Path, output: str, message: str
) -> None:
    (tmp_path / "folder.csv").mkdir()

    with pytest.raises(BadInputError, match=message):
        check_job(
            str(reviews), tmp_path / output, BatchOptions(text_column="review", id_column="id")
        )

    assert files_under(tmp_path) == ["folder.csv", "reviews.csv"]


def test_an_output_in_folders_yet_to_be_made_passes_and_none_is_made(
    reviews: Path, tmp_path: Path
) -> None:
    check_job(
        str(reviews),
        tmp_path / "out" / "day" / "x.csv",
        BatchOptions(text_column="review", id_column="id"),
    )

    assert files_under(tmp_path) == ["reviews.csv"]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"input_location": "missing.csv"}, DataError, "missing.csv does not exist"),
        ({"input_location": "folder.csv"}, DataError, "folder.csv cannot be read"),
        ({"text_column": "text"}, DataError, "has no text column 'text' \\(columns: id, review\\)"),
        ({"id_column": "key", "require_id_column": True}, DataError, "has no id column 'key'"),
        ({"output": "scored.xlsx"}, DataError, "Cannot tell the output format"),
    ],
)
def test_an_unusable_input_is_refused(
    reviews: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.csv").mkdir()
    job: dict[str, object] = {
        "input_location": str(reviews),
        "output": "scored.csv",
        "text_column": "review",
        "id_column": "id",
    } | arguments

    with pytest.raises(error, match=message):
        check_job(job.pop("input_location"), job.pop("output"), BatchOptions(**job))  # type: ignore[arg-type]

    assert files_under(tmp_path) == ["folder.csv", "reviews.csv"]


def test_an_absent_id_column_passes_unless_it_was_named(reviews: Path, tmp_path: Path) -> None:
    """Without --id-column the rows are numbered (row_number) when the input has no 'id'."""
    check_job(str(reviews), tmp_path / "x.csv", BatchOptions(text_column="review", id_column="key"))


def test_s3_inputs_are_checked_before_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_s3(monkeypatch):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="batch")
        s3.put_object(Bucket="batch", Key="in/reviews.csv", Body=REVIEWS.encode())

        with pytest.raises(DataError, match=re.escape("s3://batch/in/missing.csv does not exist")):
            check_job("s3://batch/in/missing.csv", "s3://batch/out/x.csv",
                      BatchOptions(text_column="review", id_column="id"))  # fmt: skip
        with pytest.raises(DataError, match="has no text column 'text'"):
            check_job("s3://batch/in/reviews.csv", "s3://batch/out/x.csv",
                      BatchOptions(text_column="text", id_column="id"))  # fmt: skip
        with pytest.raises(BadInputError, match="would overwrite the input"):
            check_job("s3://batch/in/reviews.csv", "s3://batch/in/reviews.csv",
                      BatchOptions(text_column="review", id_column="id"))  # fmt: skip
        check_job("s3://batch/in/reviews.csv", "s3://batch/out/x.csv",
                  BatchOptions(text_column="review", id_column="id"))  # fmt: skip
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket="batch")["Contents"]]

    assert keys == ["in/reviews.csv"]  # nothing written on the way


def test_the_columns_are_checked_on_the_first_readable_record_however_far(tmp_path: Path) -> None:
    """A check used to read 1,000 records only: an input opening with more unreadable rows was
    refused for its columns only once the model had been loaded."""
    source = tmp_path / "reviews.jsonl"
    source.write_text("not json\n" * 1_001 + '{"text": "A wonderful film."}\n')

    with pytest.raises(DataError, match="has no text column 'review' \\(columns: text\\)"):
        check_job(str(source), tmp_path / "out.csv", BatchOptions())

    assert files_under(tmp_path) == ["reviews.jsonl"]
