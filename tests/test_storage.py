"""Local paths and s3:// behind one interface, against a real moto S3 server on loopback."""

from __future__ import annotations

import errno
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from s3fs.errors import translate_boto_error

from sentimentops.data.load import load_reviews
from sentimentops.errors import (
    BadInputError,
    ConfigError,
    DataError,
    SentimentOpsError,
    StorageUnavailableError,
)
from sentimentops.storage import (
    Location,
    object_store_misconfiguration,
    object_store_outage,
    object_store_refusal,
    storage_errors,
    write_atomically,
)
from tests.servers import free_port, moto_s3, without_aws_credentials

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
    assert Location(f"s3://{s3_bucket}/in/reviews.csv").exists()
    assert not Location(f"s3://{s3_bucket}/in/nope.csv").exists()
    with pytest.raises(DataError, match="does not exist"):
        load_reviews(f"s3://{s3_bucket}/in/nope.csv")


def test_s3_write_then_read(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/out/hello.txt"
    with Location(uri).open("wb") as stream:
        stream.write(b"hello")
    with Location(uri).open("rb") as stream:
        assert stream.read() == b"hello"


def test_location_helpers(tmp_path: Path) -> None:
    assert Location("s3://bucket/key").remote
    assert not Location(tmp_path / "x.csv").remote
    assert not Location("file:///tmp/x.csv").remote
    assert Location("s3://bucket/folder/reviews.csv.gz").name == "reviews.csv.gz"
    assert Location(tmp_path / "a" / "b.parquet").name == "b.parquet"


def test_file_uri_reads_the_local_file(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_bytes(CSV)

    assert len(load_reviews(f"file://{path}")) == 2


def test_list_files_of_a_folder_and_a_prefix(s3_bucket: str, tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(CSV)
    (tmp_path / "a.csv").write_bytes(CSV)
    (tmp_path / "sub").mkdir()

    assert Location(tmp_path).files() == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert Location(tmp_path / "missing").files() == []
    assert Location(f"s3://{s3_bucket}/in/").files() == [
        f"s3://{s3_bucket}/in/reviews.csv",
        f"s3://{s3_bucket}/in/reviews.csv.gz",
    ]
    assert Location(f"s3://{s3_bucket}/nothing/").files() == []


def test_fingerprint_changes_when_the_content_is_rewritten(s3_bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "reviews.csv"
    local.write_bytes(CSV)
    before = Location(local).fingerprint()
    local.write_bytes(CSV + b'"More",positive\n')
    assert Location(local).fingerprint() != before

    uri = f"s3://{s3_bucket}/in/reviews.csv"
    remote_before = Location(uri).fingerprint()
    with Location(uri).open("wb") as stream:
        stream.write(CSV + b'"More",positive\n')
    assert Location(uri).fingerprint() != remote_before


# The errors S3 calls end in, built the way s3fs and botocore build them: S3's answer is a
# ClientError that s3fs translates to a Python error with the ClientError as cause.
URI = "s3://reviews/in/reviews.csv"


def _s3_answer(code: str, message: str, operation: str = "GetObject") -> BaseException:
    error = ClientError({"Error": {"Code": code, "Message": message}}, operation)
    return translate_boto_error(error)


def _raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    """``then`` as raised inside ``except first``: its context is ``first``."""
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 (the implicit context is the point)
    except BaseException as error:
        return error


OUTAGES: dict[str, Callable[[], BaseException]] = {
    "throttled (503 SlowDown)": lambda: _s3_answer("SlowDown", "Please reduce your request rate."),
    "503 ServiceUnavailable": lambda: _s3_answer("ServiceUnavailable", "Service Unavailable"),
    "500 InternalError": lambda: _s3_answer("InternalError", "We encountered an internal error."),
    "HEAD answered 500": lambda: _s3_answer("500", "Internal Server Error", "HeadObject"),
    "RequestTimeout": lambda: _s3_answer("RequestTimeout", "Your socket connection timed out."),
    "unreachable endpoint": lambda: EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    "connect timeout": lambda: ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
    "read timeout": lambda: ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
}
REFUSALS: dict[str, Callable[[], BaseException]] = {
    "NoSuchKey": lambda: _s3_answer("NoSuchKey", "The specified key does not exist."),
    "NoSuchBucket": lambda: _s3_answer("NoSuchBucket", "The specified bucket does not exist"),
    "HEAD answered 404": lambda: _s3_answer("404", "Not Found", "HeadObject"),
    "AccessDenied": lambda: _s3_answer("AccessDenied", "Access Denied"),
    "HEAD answered 403": lambda: _s3_answer("403", "Forbidden", "HeadObject"),
    "InvalidAccessKeyId": lambda: _s3_answer("InvalidAccessKeyId", "No such access key."),
}
BAD_BUCKET = 'Invalid bucket name "Bad_Bucket!": Bucket name must match the regex "..."'
# A location the S3 client will not even send: botocore raises ParamValidationError, and s3fs
# sometimes raises a ValueError of its own while handling it.
MALFORMED: dict[str, Callable[[], BaseException]] = {
    "invalid bucket name": lambda: ParamValidationError(report=BAD_BUCKET),
    "empty key": lambda: ParamValidationError(report="Invalid length for parameter Key"),
    "s3fs's ValueError": lambda: _raised_while_handling(
        ParamValidationError(report=BAD_BUCKET),
        ValueError(f"Failed to list path 'Bad_Bucket!/in': {BAD_BUCKET}"),
    ),
}
# No credentials to sign a request with: the environment, not the input nor S3, is at fault.
MISCONFIGURED: dict[str, Callable[[], BaseException]] = {
    "no credentials": NoCredentialsError,
    "half a key pair": lambda: PartialCredentialsError(
        provider="env", cred_var="AWS_SECRET_ACCESS_KEY"
    ),
    "AWS_PROFILE names no profile": lambda: ProfileNotFound(profile="nope"),
}
NEITHER: dict[str, Callable[[], BaseException]] = {
    "a local missing file": lambda: FileNotFoundError(errno.ENOENT, "No such file", "x.csv"),
    "a local full disk": lambda: OSError(errno.ENOSPC, "No space left on device"),
    "a bug of ours": lambda: ValueError("not an S3 problem"),
    "a local permission error": lambda: PermissionError(errno.EACCES, "Permission denied", "x"),
    # An error of ours raised while handling an S3 error already says what to do.
    "our error, raised while handling S3's": lambda: _raised_while_handling(
        _s3_answer("SlowDown", "Please reduce your request rate."),
        DataError(f"{URI} is not a readable Parquet file."),
    ),
}


@pytest.mark.parametrize("make", OUTAGES.values(), ids=OUTAGES.keys())
def test_an_outage_becomes_storage_unavailable_naming_the_location(
    make: Callable[[], BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    error = make()
    assert object_store_outage(error) is not None
    assert object_store_refusal(error) is None

    with pytest.raises(StorageUnavailableError) as raised, storage_errors(f"reading {URI}"):
        raise error

    message = str(raised.value)
    assert message.startswith(f"The object store failed while reading {URI} (")
    assert str(object_store_outage(error)) in message  # S3's own words: the operation, the code
    assert "http://localstack:4566" in message  # the endpoint that failed to answer
    assert message.endswith("then run again; AWS_MAX_ATTEMPTS sets how many attempts each "
                            "request gets.")  # fmt: skip
    assert raised.value.__cause__ is error
    assert raised.value.exit_code == 1  # worth retrying


@pytest.mark.parametrize("make", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refusal_becomes_bad_input_naming_the_location(
    make: Callable[[], BaseException],
) -> None:
    error = make()
    assert isinstance(error, FileNotFoundError | PermissionError)  # as s3fs raises it
    assert object_store_refusal(error) is not None
    assert object_store_outage(error) is None

    with pytest.raises(BadInputError) as raised, storage_errors(f"writing {URI}"):
        raise error

    message = str(raised.value)
    assert message.startswith(f"The object store refused a request while writing {URI} (")
    assert str(object_store_refusal(error)) in message
    assert "Retrying will not help" in message
    assert raised.value.__cause__ is error
    assert raised.value.exit_code == 2  # fix the input


@pytest.mark.parametrize("make", NEITHER.values(), ids=NEITHER.keys())
def test_errors_that_are_not_the_object_store_pass_unchanged(
    make: Callable[[], BaseException],
) -> None:
    error = make()
    assert object_store_outage(error) is None
    assert object_store_refusal(error) is None
    assert object_store_misconfiguration(error) is None
    with pytest.raises(type(error)) as raised, storage_errors(f"reading {URI}", then="go"):
        raise error
    assert raised.value is error


def test_an_unreachable_s3_endpoint_is_storage_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with moto_s3(monkeypatch):
        endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

        with (
            pytest.raises(StorageUnavailableError) as raised,
            storage_errors(f"reading {URI}"),
        ):
            Location(URI).exists()

    message = str(raised.value)
    assert f"while reading {URI}" in message
    assert "Could not connect to the endpoint URL" in message
    assert f"endpoint {endpoint}" in message


def test_a_missing_bucket_is_a_refusal_not_an_outage(s3_bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "scored.csv"
    local.write_bytes(CSV)
    uri = "s3://no-such-bucket/out/scored.csv"

    with pytest.raises(FileNotFoundError) as unmapped:
        Location(uri).put(local)
    assert object_store_outage(unmapped.value) is None
    with (
        pytest.raises(BadInputError, match="NoSuchBucket") as raised,
        storage_errors(f"writing {uri}"),
    ):
        Location(uri).put(local)

    assert f"while writing {uri}" in str(raised.value)
    assert not isinstance(raised.value, StorageUnavailableError | DataError)
    assert isinstance(raised.value, SentimentOpsError)


# The one rule, all kinds at once (object_store_errors, as load, predict and the worker use it).
ONE_RULE: list[tuple[str, Callable[[], BaseException], type[SentimentOpsError]]] = [
    *((f"outage: {name}", make, StorageUnavailableError) for name, make in OUTAGES.items()),
    *((f"refusal: {name}", make, BadInputError) for name, make in REFUSALS.items()),
    *((f"malformed: {name}", make, BadInputError) for name, make in MALFORMED.items()),
    *((f"credentials: {name}", make, ConfigError) for name, make in MISCONFIGURED.items()),
]


@pytest.mark.parametrize(
    ("make", "expected"), [case[1:] for case in ONE_RULE], ids=[case[0] for case in ONE_RULE]
)
def test_each_object_store_error_becomes_one_domain_error(
    make: Callable[[], BaseException], expected: type[SentimentOpsError]
) -> None:
    error = make()
    with pytest.raises(SentimentOpsError) as raised, storage_errors(f"reading {URI}"):
        raise error

    assert type(raised.value) is expected
    assert raised.value.__cause__ is error
    assert f"reading {URI}" in str(raised.value)
    assert raised.value.exit_code == (1 if expected is StorageUnavailableError else 2)
    kinds = (object_store_outage(error), object_store_refusal(error))
    assert sum(kind is not None for kind in (*kinds, object_store_misconfiguration(error))) == 1


@pytest.mark.parametrize("make", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_location_is_bad_input_not_an_outage(
    make: Callable[[], BaseException],
) -> None:
    error = make()
    assert object_store_outage(error) is None
    assert isinstance(object_store_refusal(error), ParamValidationError)

    with pytest.raises(BadInputError) as raised, storage_errors(f"reading {URI}"):
        raise error

    message = str(raised.value)
    assert message.startswith(f"The S3 client refused a request while reading {URI} (")
    assert "before sending it: the location is not a valid S3 URI" in message
    assert "Retrying will not help: fix the URI, then run again." in message
    assert not isinstance(raised.value, StorageUnavailableError | ConfigError)


@pytest.mark.parametrize("make", MISCONFIGURED.values(), ids=MISCONFIGURED.keys())
def test_missing_credentials_are_a_config_error_naming_what_to_set(
    make: Callable[[], BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    error = make()
    assert object_store_outage(error) is None
    assert object_store_refusal(error) is None

    with pytest.raises(ConfigError) as raised, storage_errors(f"reading {URI}"):
        raise error

    message = str(raised.value)
    assert message.startswith(f"No usable AWS credentials while reading {URI} ({error})")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        assert variable in message
    assert "AWS_ENDPOINT_URL" in message
    assert "http://localstack:4566" in message
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("make", [*REFUSALS.values(), *MALFORMED.values()])
def test_a_reader_gets_its_own_error_for_a_refusal(make: Callable[[], BaseException]) -> None:
    with (
        pytest.raises(DataError) as raised,
        storage_errors(f"reading {URI}", refused_as=DataError),
    ):
        raise make()
    assert "Retrying will not help" in str(raised.value)


def test_an_error_chain_that_loops_is_walked_once() -> None:
    first, second = ValueError("first of a loop"), ValueError("second of a loop")
    first.__cause__, second.__cause__ = second, first

    assert object_store_outage(first) is None
    with pytest.raises(ValueError, match="first of a loop"), storage_errors(f"reading {URI}"):
        raise first


def test_a_malformed_bucket_name_is_bad_input_end_to_end(s3_bucket: str) -> None:
    uri = "s3://Bad_Bucket!/in/reviews.csv"  # uppercase and '!' are not allowed in a bucket

    with pytest.raises(DataError) as raised:
        load_reviews(uri)

    message = str(raised.value)
    assert f"while reading {uri}" in message
    assert 'Invalid bucket name "Bad_Bucket!"' in message
    assert not isinstance(raised.value, StorageUnavailableError)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    without_aws_credentials(monkeypatch, tmp_path)


@pytest.mark.parametrize("partial", [False, True], ids=["none", "half a key pair"])
def test_reading_s3_without_credentials_is_a_config_error_end_to_end(
    s3_bucket: str, no_aws_credentials: None, partial: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if partial:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the secret is missing
    uri = f"s3://{s3_bucket}/in/reviews.csv"

    with pytest.raises(ConfigError) as raised:
        load_reviews(uri)

    message = str(raised.value)
    assert f"No usable AWS credentials while reading {uri}" in message
    assert ("Partial credentials" if partial else "Unable to locate credentials") in message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message
    assert "AWS_PROFILE" in message
    assert "AWS_ENDPOINT_URL" in message


def test_a_file_written_atomically_is_whole_or_absent(tmp_path: Path) -> None:
    target = tmp_path / "report.html"

    def cut_short(path: Path) -> None:
        path.write_text("<html>half")
        raise KeyboardInterrupt  # Ctrl-C in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, cut_short)
    assert list(tmp_path.iterdir()) == []

    target.write_text("the last whole report")
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, cut_short)
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
    assert target.read_text() == "the last whole report"

    write_atomically(target, lambda path: path.write_text("<html>whole</html>"))
    assert target.read_text() == "<html>whole</html>"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
