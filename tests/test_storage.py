"""Local paths and s3:// behind one interface, against a real moto S3 server on loopback."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from sentimentops.data.load import load_reviews
from sentimentops.errors import DataError
from sentimentops.storage import (
    fingerprint,
    is_remote,
    list_files,
    location_exists,
    location_name,
    open_location,
)
from tests.servers import moto_s3

CSV = b'review,sentiment\n"Great, truly great",positive\n"Dull",negative\n'


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket on a moto server; AWS_ENDPOINT_URL points at it, as with LocalStack."""
    with moto_s3(monkeypatch) as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="reviews")
        client.put_object(Bucket="reviews", Key="in/reviews.csv", Body=CSV)
        client.put_object(Bucket="reviews", Key="in/reviews.csv.gz", Body=gzip.compress(CSV))
        yield "reviews"


def test_s3_csv_loads_like_a_local_file(s3_bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "reviews.csv"
    local.write_bytes(CSV)

    remote = load_reviews(f"s3://{s3_bucket}/in/reviews.csv")

    assert remote.to_dict("records") == load_reviews(local).to_dict("records")
    assert load_reviews(f"s3://{s3_bucket}/in/reviews.csv.gz")["review"].tolist() == [
        "Great, truly great",
        "Dull",
    ]


def test_s3_existence_and_missing_keys(s3_bucket: str) -> None:
    assert location_exists(f"s3://{s3_bucket}/in/reviews.csv")
    assert not location_exists(f"s3://{s3_bucket}/in/nope.csv")
    with pytest.raises(DataError, match="does not exist"):
        load_reviews(f"s3://{s3_bucket}/in/nope.csv")


def test_s3_write_then_read(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/out/hello.txt"
    with open_location(uri, "wb") as stream:
        stream.write(b"hello")
    with open_location(uri, "rb") as stream:
        assert stream.read() == b"hello"


def test_location_helpers(tmp_path: Path) -> None:
    assert is_remote("s3://bucket/key")
    assert not is_remote(tmp_path / "x.csv")
    assert not is_remote("file:///tmp/x.csv")
    assert location_name("s3://bucket/folder/reviews.csv.gz") == "reviews.csv.gz"
    assert location_name(tmp_path / "a" / "b.parquet") == "b.parquet"


def test_file_uri_reads_the_local_file(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_bytes(CSV)

    assert len(load_reviews(f"file://{path}")) == 2


def test_list_files_of_a_folder_and_a_prefix(s3_bucket: str, tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(CSV)
    (tmp_path / "a.csv").write_bytes(CSV)
    (tmp_path / "sub").mkdir()

    assert list_files(tmp_path) == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert list_files(tmp_path / "missing") == []
    assert list_files(f"s3://{s3_bucket}/in/") == [
        f"s3://{s3_bucket}/in/reviews.csv",
        f"s3://{s3_bucket}/in/reviews.csv.gz",
    ]
    assert list_files(f"s3://{s3_bucket}/nothing/") == []


def test_fingerprint_changes_when_the_content_is_rewritten(s3_bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "reviews.csv"
    local.write_bytes(CSV)
    before = fingerprint(local)
    local.write_bytes(CSV + b'"More",positive\n')
    assert fingerprint(local) != before

    uri = f"s3://{s3_bucket}/in/reviews.csv"
    remote_before = fingerprint(uri)
    with open_location(uri, "wb") as stream:
        stream.write(CSV + b'"More",positive\n')
    assert fingerprint(uri) != remote_before
