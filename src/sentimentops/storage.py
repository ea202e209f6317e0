"""A user's file, local or ``s3://`` (any endpoint ``AWS_ENDPOINT_URL`` names), behind one type,
and the one rule that turns S3's and the disk's failures into errors of ours."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from sentimentops.errors import (
    BadInputError,
    ConfigError,
    DataError,
    SentimentOpsError,
    StorageFullError,
    StorageUnavailableError,
    UnsafeLocationError,
)

__all__ = [
    "REJECTS",
    "SUMMARY",
    "DataFormat",
    "Location",
    "LocationLike",
    "contained_path",
    "object_store_error",
    "object_store_misconfiguration",
    "object_store_outage",
    "object_store_refusal",
    "storage_errors",
    "write_atomically",
]

# Beside a batch output: its rejects and summary (batch writes them; monitoring and the SQS
# worker read them, so the names live here, below all three).
REJECTS = ".rejects.csv"
SUMMARY = ".summary.json"
DataFormat = Literal["csv", "jsonl", "parquet"]
_FORMATS: dict[str, DataFormat] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                                   ".parquet": "parquet", ".pq": "parquet"}  # fmt: skip
# In an object key "." and ".." are characters some tools normalise and others do not.
_DOT_SEGMENTS = frozenset({".", ".."})
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# Set inside a storage_errors block: reads inside it leave their failures to the block's words.
_IN_BLOCK: ContextVar[bool] = ContextVar("sentimentops_storage_block", default=False)


@dataclass(frozen=True, init=False)
class Location:
    """A local path (``file://`` too) or remote URI, made once from what the user typed; reads word
    S3's failures, writes leave them to :func:`storage_errors`. UnsafeLocationError: a remote key
    with a ``.`` or ``..`` segment."""

    text: str

    def __init__(self, location: LocationLike) -> None:
        object.__setattr__(self, "text", str(location))
        if self.remote and _DOT_SEGMENTS.intersection(self.text.split("://", 1)[1].split("/")):
            raise UnsafeLocationError(
                f"{self} has a '.' or '..' segment: object keys are not folders, and such a "
                "key could land outside its prefix. Name the object by its plain key."
            )

    def __str__(self) -> str:
        return self.text

    @property
    def remote(self) -> bool:
        """True for a URI with a scheme other than ``file://`` (``s3://bucket/key``)."""
        return "://" in self.text and not self.text.startswith("file://")

    def same_place(self, other: Location) -> bool:
        """Whether both name one file: a local path by its real path (links, ``..``), a URI as
        written."""
        if self.remote or other.remote:
            return self == other
        return os.path.realpath(self.path) == os.path.realpath(other.path)

    @property
    def name(self) -> str:
        """The last path component: ``reviews.csv.gz``."""
        return self.text.rstrip("/").rsplit("/", 1)[-1]

    @property
    def format(self) -> DataFormat | None:
        """``csv``, ``jsonl`` or ``parquet`` from the name (gzip allowed); None for others."""
        name = self.name.lower().removesuffix(".gz")
        return next((kind for suffix, kind in _FORMATS.items() if name.endswith(suffix)), None)

    @property
    def stem(self) -> str:
        """The name without its data suffixes: ``scored.csv.gz`` -> ``scored``."""
        name = self.name.removesuffix(".gz")
        return next((name.removesuffix(s) for s in _FORMATS if name.endswith(s)), name)

    @property
    def path(self) -> Path:
        """The filesystem path of a local location."""
        return Path(self.text.removeprefix("file://"))

    def beside(self, suffix: str) -> Location:
        """The whole name plus ``suffix``, beside it: ``scored.csv`` -> ``scored.csv`` +
        :data:`SUMMARY`, so that outputs in one folder keep their own."""
        return Location(self.text.rstrip("/") + suffix)

    def exists(self) -> bool:
        """Whether a file or folder exists here."""
        if not self.remote:
            return self.path.exists()
        with _reading(self):
            filesystem, path = self._filesystem()
            return bool(filesystem.exists(path))

    def fingerprint(self) -> str | None:
        """A cheap identity of the content, None when there is no file: size and modification
        time locally (what ``make`` trusts), the ETag on S3 (one HEAD request)."""
        try:
            if not self.remote:
                stat = self.path.stat()
                return f"{stat.st_size}-{stat.st_mtime_ns}"
            with _reading(self):
                filesystem, path = self._filesystem()
                info = filesystem.info(path)
        except FileNotFoundError:
            return None
        return str(info.get("ETag") or f"{info.get('size')}-{info.get('LastModified')}").strip('"')

    @contextmanager
    def open(self, mode: str = "rb") -> Iterator[IO[Any]]:
        """The file, open in ``mode`` while the block runs; no decompression is applied."""
        with _reading(self) if "r" in mode else nullcontext():
            if not self.remote:
                with self.path.open(mode) as stream:
                    yield stream
                return
            import fsspec

            with fsspec.open(self.text, mode, **_storage_options(self.text)) as stream:
                yield stream

    def files(self) -> list[str]:
        """The files directly in a local folder or under an S3 prefix, sorted; none for a
        folder that does not exist."""
        if not self.remote:
            folder = self.path
            return (
                sorted(str(p) for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
            )
        with _reading(self):
            filesystem, path = self._filesystem()
            entries = (
                filesystem.ls(path.rstrip("/"), detail=True) if filesystem.exists(path) else []
            )
        scheme = self.text.split("://", 1)[0]
        return sorted(f"{scheme}://{entry['name']}" for entry in entries if entry["type"] == "file")

    def put(self, local: Path) -> None:
        """Copy a finished local file here whole: on S3 an object appears once its upload
        completes; locally the copy is renamed into place."""
        if self.remote:
            filesystem, path = self._filesystem()
            filesystem.put_file(str(local), path)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.name + ".tmp")
        shutil.copyfile(local, temporary)  # streamed: outputs can be gigabytes
        temporary.replace(self.path)

    def require_bucket(self) -> None:
        """Fail now (FileNotFoundError) when an ``s3://`` location's bucket does not exist.
        A bucket that may not be listed passes: the writer may lack ``s3:ListBucket``."""
        if self.text.startswith("s3://"):
            filesystem, path = self._filesystem()
            with suppress(PermissionError):
                filesystem.call_s3("list_objects_v2", Bucket=path.split("/", 1)[0], MaxKeys=1)

    def _filesystem(self) -> tuple[Any, str]:
        import fsspec

        found: tuple[Any, str] = fsspec.core.url_to_fs(self.text, **_storage_options(self.text))
        return found


LocationLike = str | Path | Location


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def _storage_options(text: str) -> dict[str, Any]:
    # s3fs does not read AWS_ENDPOINT_URL itself; pass it so LocalStack and moto work.
    endpoint = _endpoint()
    return (
        {"client_kwargs": {"endpoint_url": endpoint}}
        if text.startswith("s3://") and endpoint
        else {}
    )


def contained_path(root: Path, relative: str) -> Path:
    """``root / relative`` for a name taken from a key or a message; UnsafeLocationError when it
    would land outside ``root`` (absolute, empty, ``..``)."""
    parts = relative.replace("\\", "/").split("/")  # a backslash is a separator on Windows
    if not relative or parts[0] == "" or _DOT_SEGMENTS.intersection(parts):
        raise UnsafeLocationError(
            f"{relative!r} would be written outside {root}: refused (absolute, empty, or with a "
            "'.' or '..' segment)."
        )
    return root.joinpath(*[part for part in parts if part])


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a file beside ``path``, then rename it to ``path``: a reader, or a run cut short,
    finds the whole file or none. A random name in the same folder keeps the rename atomic and
    concurrent writers apart; unlike mkstemp, the file gets the usual (umask) permissions."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    try:
        write(temporary)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


Kind = Literal["credentials", "invalid", "refusal", "outage"]


def _object_store_failure(error: BaseException) -> tuple[Kind, BaseException] | None:
    """What kind of S3 failure ``error`` is, and S3's (botocore's) own error behind it."""
    if isinstance(error, SentimentOpsError) or "botocore" not in sys.modules:
        return None  # ours already says what to do; without botocore, S3 was never asked
    from botocore import exceptions as boto

    # The first botocore error in the chain is S3's own (docs/decisions.md, "Storage and batch").
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:  # once each, even in a loop
        if isinstance(cause, boto.BotoCoreError | boto.ClientError):
            break
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    else:
        return None
    no_credentials = (boto.NoCredentialsError, boto.PartialCredentialsError, boto.ProfileNotFound)
    if isinstance(cause, no_credentials):
        return "credentials", cause
    if isinstance(cause, boto.ParamValidationError):
        return "invalid", cause  # not sent: a malformed bucket name or key
    if isinstance(error, FileNotFoundError | PermissionError):
        return "refusal", cause  # no such bucket or key, access denied
    return "outage", cause


def object_store_error(error: BaseException, *kinds: Kind) -> BaseException | None:
    """S3's own error behind ``error`` when it is an S3 failure (of one of ``kinds``, if any
    are named), else None."""
    failure = _object_store_failure(error)
    return failure[1] if failure is not None and (failure[0] in kinds or not kinds) else None


def object_store_outage(error: BaseException) -> BaseException | None:
    """S3's error behind ``error`` when S3 failed after its retries (worth retrying)."""
    return object_store_error(error, "outage")


def object_store_refusal(error: BaseException) -> BaseException | None:
    """S3's error behind a request that cannot succeed (no such bucket or key, access denied,
    a malformed URI)."""
    return object_store_error(error, "refusal", "invalid")


def object_store_misconfiguration(error: BaseException) -> BaseException | None:
    """S3's error behind ``error`` when there were no credentials to sign with."""
    return object_store_error(error, "credentials")


def _translated(
    error: BaseException, doing: str, then: str, refused_as: type[BadInputError], writes: bool
) -> SentimentOpsError | None:
    """The error of ours that ``error`` is, or None when it is not a storage failure."""
    if writes and isinstance(error, OSError) and error.errno in _DISK_FULL:
        where = f" {error.filename}" if error.filename else ""
        return StorageFullError(
            f"Out of space writing{where} ({errno.errorcode[error.errno]}: "
            f"{os.strerror(error.errno)}) while {doing}; no partial file was left as if "
            f"complete. Free space on that disk (or raise its quota or file-size limit), then "
            f"{then}."
        )
    failure = _object_store_failure(error)
    if failure is None:
        return None
    kind, cause = failure
    endpoint = _endpoint()
    hint = (
        f"endpoint {endpoint}, from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL"
        if endpoint
        else "AWS's own endpoint: no AWS_ENDPOINT_URL is set"
    )
    if kind == "credentials":
        return ConfigError(
            f"No usable AWS credentials while {doing} ({cause}). Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or "
            "AWS_PROFILE naming a profile in ~/.aws/credentials or ~/.aws/config; with "
            "LocalStack or moto, any key pair works and AWS_ENDPOINT_URL must name the endpoint "
            f"({hint}). Retrying will not help until then; then {then}."
        )
    if kind == "outage":
        return StorageUnavailableError(
            f"The object store failed while {doing} ({cause}), after retrying with backoff. "
            f"Check that S3 answers ({hint}), then {then}; AWS_MAX_ATTEMPTS sets how many "
            "attempts each request gets."
        )
    if kind == "invalid":
        return refused_as(
            f"The S3 client refused a request while {doing} ({cause}), before sending it: the "
            "location is not a valid S3 URI. A bucket name is 3-63 lowercase letters, digits, "
            "dots and hyphens, and an object needs a key: s3://bucket/folder/file.csv. "
            f"Retrying will not help: fix the URI, then {then}."
        )
    return refused_as(
        f"The object store refused a request while {doing} ({cause}): a bucket or key that "
        "does not exist, or credentials without permission for it. Retrying will not help: fix "
        "the location, or the permissions of the credentials in use (their IAM policy or the "
        f"bucket's policy; AWS_PROFILE or AWS_ACCESS_KEY_ID selects them), then {then}."
    )


@contextmanager
def _translating(
    doing: str, then: str, refused_as: type[BadInputError], writes: bool
) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        translated = _translated(error, doing, then, refused_as, writes)
        if translated is None:
            raise
        raise translated from error


@contextmanager
def storage_errors(
    doing: str,
    *,
    then: str = "run again",
    refused_as: type[BadInputError] = BadInputError,
    writes: bool = False,
) -> Iterator[None]:
    """Raise a storage failure in the block as the error of ours that names ``doing`` ("scoring
    s3://b/in.csv into out.csv") and ``then`` (once fixed); reads inside leave theirs to it.

    Raises:
        StorageUnavailableError: S3 failed after its retries.
        BadInputError: (or ``refused_as``) no such bucket or key, access denied, a malformed URI.
        ConfigError: no AWS credentials to sign requests with.
        StorageFullError: with ``writes``, the disk written to is full.
    """
    token = _IN_BLOCK.set(True)
    try:
        with _translating(doing, then, refused_as, writes):
            yield
    finally:
        _IN_BLOCK.reset(token)


@contextmanager
def _reading(location: Location) -> Iterator[None]:
    """A read's failures as "reading LOCATION" (a refusal as DataError), unless a block words them.
    It never sets the flag itself: a generator holding a read open would leave it set."""
    if _IN_BLOCK.get():
        yield
        return
    with _translating(f"reading {location}", "run again", DataError, writes=False):
        yield
