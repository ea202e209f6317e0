"""One interface for local paths and ``s3://`` URIs.

Everything that reads or writes a user-given location goes through here, so S3 (or any
LocalStack/moto endpoint named by ``AWS_ENDPOINT_URL``) works wherever a path does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import fsspec

from sentimentops.errors import (
    BadInputError,
    ConfigError,
    SentimentOpsError,
    StorageUnavailableError,
    UnsafeLocationError,
)

__all__ = [
    "Location",
    "checked_key",
    "contained_path",
    "data_stem",
    "fingerprint",
    "is_remote",
    "list_files",
    "local_path",
    "location_exists",
    "location_name",
    "object_store_error",
    "object_store_errors",
    "object_store_misconfiguration",
    "object_store_outage",
    "object_store_refusal",
    "open_location",
    "put_file",
    "rejects_location",
    "require_bucket",
    "sibling",
    "summary_location",
]

Location = str | Path


def is_remote(location: Location) -> bool:
    """True for URIs with a scheme other than ``file://`` (``s3://bucket/key``)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def location_name(location: Location) -> str:
    """The last path component, for format detection and messages."""
    return str(location).rstrip("/").rsplit("/", 1)[-1]


def data_stem(location: Location) -> str:
    """The name without its data-format suffixes: ``scored.csv.gz`` -> ``scored``, to name what
    is made from a dataset (its splits, its quarantine, the predictions of a flow)."""
    name = location_name(location)
    for suffix in (".gz", ".csv", ".jsonl", ".ndjson", ".parquet", ".pq"):
        name = name.removesuffix(suffix)
    return name


def local_path(location: Location) -> Path:
    """The filesystem path of a local location (a plain path or a ``file://`` URI)."""
    return Path(str(location).removeprefix("file://"))


# Path segments that mean "this folder" and "the parent folder" on a filesystem. An object store
# has no folders, so in a key they are literal characters that some tools normalise and others
# do not: ``s3://b/jobs/../billing/x.csv`` might be written to ``jobs/../billing/x.csv`` or to
# ``billing/x.csv``. A key with them is refused rather than guessed at.
_DOT_SEGMENTS = frozenset({".", ".."})


def checked_key(location: Location) -> str:
    """``location`` as given when it is local or a remote URI without ``.``/``..`` segments.

    Local paths are the user's own filesystem and are not judged here (a CLI user may write
    ``../out.csv``); remote keys often come from messages and listings, so they are.

    Raises:
        UnsafeLocationError: a remote key with a ``.`` or ``..`` segment.
    """
    text = str(location)
    if is_remote(text):
        key = text.split("://", 1)[1]
        if _DOT_SEGMENTS.intersection(key.split("/")):
            raise UnsafeLocationError(
                f"{text} has a '.' or '..' segment: object keys are not folders, and such a key "
                "could land outside its prefix. Name the object by its plain key."
            )
    return text


def contained_path(root: Path, relative: str) -> Path:
    """``root / relative`` for a name taken from a key or a message, refusing any that would
    land outside ``root`` (an absolute name, a ``..`` segment).

    Raises:
        UnsafeLocationError: the name would escape ``root``.
    """
    parts = relative.replace("\\", "/").split("/")  # a backslash is a separator on Windows
    if not relative or parts[0] == "" or _DOT_SEGMENTS.intersection(parts):
        raise UnsafeLocationError(
            f"{relative!r} would be written outside {root}: refused (absolute, empty, or with a "
            "'.' or '..' segment)."
        )
    return root.joinpath(*[part for part in parts if part])


def _filesystem(location: Location) -> tuple[Any, str]:
    """The fsspec filesystem of a remote location and the path on it, once the key is checked."""
    found: tuple[Any, str] = fsspec.core.url_to_fs(
        checked_key(location), **_storage_options(location)
    )
    return found


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then its cause (or, without one, its context), and so on; each once."""
    seen: BaseException | None = error
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        yield seen
        seen = seen.__cause__ or seen.__context__


def _from_object_store(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in ("botocore", "aiobotocore")


def object_store_error(error: BaseException) -> BaseException | None:
    """The S3 client's (botocore's) error behind ``error``, or None when it has none.

    s3fs raises S3 failures as OSError with the botocore error as cause; an unreachable endpoint
    comes as botocore's own error. Callers use this to tell "S3 failed, after its retries" from
    a local file problem.
    """
    return next((seen for seen in _chain(error) if _from_object_store(seen)), None)


# botocore's names for errors raised before any request is sent. Matched by name, so this module
# does not import botocore (s3fs does, when an s3:// location is first used).
_INVALID_REQUEST = frozenset({"ParamValidationError"})  # a malformed bucket name or key
_NO_CREDENTIALS = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "ProfileNotFound"}  # nothing to sign with
)


def _is_named(error: BaseException, names: frozenset[str]) -> bool:
    """Whether ``error`` is a botocore error of a class named in ``names`` (or a subclass)."""
    return _from_object_store(error) and not names.isdisjoint(
        kind.__name__ for kind in type(error).__mro__
    )


def _botocore_error_named(error: BaseException, names: frozenset[str]) -> BaseException | None:
    """The first error in ``error``'s chain that is a botocore error named in ``names``."""
    return next((seen for seen in _chain(error) if _is_named(seen, names)), None)


def object_store_misconfiguration(error: BaseException) -> BaseException | None:
    """The S3 client's error behind ``error`` when it had no credentials to sign requests
    with: none found (NoCredentialsError), half of a key pair (PartialCredentialsError), or
    an ``AWS_PROFILE`` that names no profile (ProfileNotFound). None otherwise.

    Neither the input nor S3 is at fault, and retrying does not help: the environment must
    be set up (:func:`object_store_errors` says how, as a ConfigError).
    """
    if isinstance(error, SentimentOpsError):
        return None
    return _botocore_error_named(error, _NO_CREDENTIALS)


def object_store_refusal(error: BaseException) -> BaseException | None:
    """The S3 error behind ``error`` when the request itself cannot succeed: a bucket or key
    that does not exist, or credentials that are not allowed (s3fs raises these as
    FileNotFoundError and PermissionError), or a location the client refuses to send at all,
    such as a malformed bucket name (botocore's ParamValidationError, which s3fs sometimes
    re-raises as a ValueError). None otherwise.

    Retrying does not help: the location or the credentials must change.
    """
    if isinstance(error, SentimentOpsError):
        return None
    if isinstance(error, FileNotFoundError | PermissionError):
        return object_store_error(error)
    return _botocore_error_named(error, _INVALID_REQUEST)


def object_store_outage(error: BaseException) -> BaseException | None:
    """The S3 error behind ``error`` when the object store failed, after the client's retries:
    throttling (SlowDown), server errors (5xx), timeouts, an endpoint that does not answer.
    None for anything else: a local file problem, a refusal (see :func:`object_store_refusal`),
    missing credentials (see :func:`object_store_misconfiguration`), or an error of ours, which
    already says what to do.

    This is the one rule for "worth retrying later" versus "fix the input" versus "fix the
    configuration"; see :func:`object_store_errors`.
    """
    if (
        isinstance(error, SentimentOpsError)
        or object_store_refusal(error) is not None
        or object_store_misconfiguration(error) is not None
    ):
        return None
    return object_store_error(error)


def _outage_error(action: str, then: str, cause: BaseException) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"The object store failed while {action} ({cause}), after retrying with backoff. "
        f"Check that S3 answers ({_endpoint_hint()}), then {then}; AWS_MAX_ATTEMPTS sets "
        "how many attempts each request gets."
    )


def _refusal_error(
    action: str, then: str, refused: BaseException, refused_as: type[BadInputError]
) -> BadInputError:
    if _is_named(refused, _INVALID_REQUEST):
        return refused_as(
            f"The S3 client refused a request while {action} ({refused}), before sending it: "
            "the location is not a valid S3 URI. A bucket name is 3-63 lowercase letters, "
            "digits, dots and hyphens, and an object needs a key: s3://bucket/folder/file.csv. "
            f"Retrying will not help: fix the URI, then {then}."
        )
    return refused_as(
        f"The object store refused a request while {action} ({refused}): a bucket or key "
        "that does not exist, or credentials without permission for it. Retrying will not "
        "help: fix the location, or the permissions of the credentials in use (their IAM "
        f"policy or the bucket's policy; AWS_PROFILE or AWS_ACCESS_KEY_ID selects them), then "
        f"{then}."
    )


def _misconfiguration_error(action: str, then: str, cause: BaseException) -> ConfigError:
    return ConfigError(
        f"No usable AWS credentials while {action} ({cause}). Set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or AWS_PROFILE "
        "naming a profile in ~/.aws/credentials or ~/.aws/config; with LocalStack or moto, any "
        f"key pair works and AWS_ENDPOINT_URL must name the endpoint ({_endpoint_hint()}). "
        f"Retrying will not help until then; then {then}."
    )


def _object_store_domain_error(
    error: BaseException,
    action: str,
    *,
    then: str = "run again",
    refused_as: type[BadInputError] = BadInputError,
) -> SentimentOpsError | None:
    """The error of ours that ``error`` is, by the one rule, or None when it is not an object
    store failure (a local problem, or already one of ours): :class:`StorageUnavailableError`
    for an outage (exit 1, retry), ``refused_as`` for a refusal (exit 2, fix the location or
    permissions), :class:`ConfigError` for missing credentials (exit 2, set them up).

    Args:
        action: what was being done, naming the location(s): ``f"reading {uri}"``.
        then: what to do once the cause is fixed: ``"rerun with --resume"``.
        refused_as: the class a refusal is raised as; a reader passes its DataError.
    """
    if (cause := object_store_misconfiguration(error)) is not None:
        return _misconfiguration_error(action, then, cause)
    if (refused := object_store_refusal(error)) is not None:
        return _refusal_error(action, then, refused, refused_as)
    if (cause := object_store_outage(error)) is not None:
        return _outage_error(action, then, cause)
    return None


@contextmanager
def object_store_errors(
    action: str, *, then: str = "run again", refused_as: type[BadInputError] = BadInputError
) -> Iterator[None]:
    """Raise an object store failure inside the block as the error of ours that says what to do
    (by the one rule, see Raises); the original error is its cause. Every other error leaves
    the block unchanged.

    Raises:
        StorageUnavailableError: S3 failed after its retries (:func:`object_store_outage`).
        BadInputError: (or ``refused_as``) no such bucket or key, access denied, or a malformed
            location (:func:`object_store_refusal`).
        ConfigError: no credentials to sign requests with (:func:`object_store_misconfiguration`).
    """
    try:
        yield
    except Exception as error:
        mapped = _object_store_domain_error(error, action, then=then, refused_as=refused_as)
        if mapped is None:
            raise
        raise mapped from error


def _s3_endpoint() -> str | None:
    """The S3 endpoint the environment names (LocalStack, moto), or None for AWS's own."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def _endpoint_hint() -> str:
    endpoint = _s3_endpoint()
    if endpoint:
        return f"endpoint {endpoint}, from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL"
    return "AWS's own endpoint: no AWS_ENDPOINT_URL is set"


def _storage_options(location: Location) -> dict[str, Any]:
    if str(location).startswith("s3://"):
        # s3fs does not read AWS_ENDPOINT_URL itself; pass it so LocalStack and moto work.
        endpoint = _s3_endpoint()
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


def open_location(location: Location, mode: str = "rb") -> IO[Any]:
    """Open a local path or remote URI; use as a context manager. No decompression is applied."""
    if not is_remote(location):
        return local_path(location).open(mode)
    opened = fsspec.open(checked_key(location), mode, **_storage_options(location))
    return opened.open()  # type: ignore[no-any-return]


def location_exists(location: Location) -> bool:
    """Whether a file or folder exists at the location."""
    if not is_remote(location):
        return local_path(location).exists()
    filesystem, path = _filesystem(location)
    return bool(filesystem.exists(path))


def fingerprint(location: Location) -> str:
    """A cheap identity of a file's current content: size and modification time locally (what
    ``make`` trusts), the ETag (or size and time) on S3. Changes when the file is rewritten."""
    if not is_remote(location):
        stat = local_path(location).stat()
        return f"{stat.st_size}-{stat.st_mtime_ns}"
    filesystem, path = _filesystem(location)
    info = filesystem.info(path)
    tag = info.get("ETag") or f"{info.get('size')}-{info.get('LastModified')}"
    return str(tag).strip('"')


def list_files(folder: Location) -> list[str]:
    """The files directly inside a local folder or under an S3 prefix, sorted, as locations
    that :func:`open_location` accepts. A folder that does not exist holds no files."""
    if not is_remote(folder):
        directory = local_path(folder)
        if not directory.is_dir():
            return []
        return sorted(str(path) for path in directory.iterdir() if path.is_file())
    filesystem, path = _filesystem(folder)
    if not filesystem.exists(path):
        return []
    scheme = str(folder).split("://", 1)[0]
    entries = filesystem.ls(path.rstrip("/"), detail=True)
    return sorted(f"{scheme}://{entry['name']}" for entry in entries if entry["type"] == "file")


def put_file(local: Path, location: Location) -> None:
    """Copy a finished local file to ``location``.

    On S3 an object becomes visible only once its upload completes, so a reader never sees a
    partial file; locally the copy goes to a temporary name that is renamed into place.
    """
    if not is_remote(location):
        target = local_path(location)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        shutil.copyfile(local, temporary)  # streamed: outputs can be gigabytes
        temporary.replace(target)
        return
    filesystem, path = _filesystem(location)
    filesystem.put_file(str(local), path)


def require_bucket(location: Location) -> None:
    """Fail now when the bucket of an ``s3://`` location does not exist, rather than after the
    work meant for it (FileNotFoundError, a refusal by :func:`object_store_errors`).

    A bucket that will not be listed passes: listing needs ``s3:ListBucket``, which a writer
    may lack, and the write itself will tell. Local paths and other schemes pass.
    """
    if not str(location).startswith("s3://"):
        return
    filesystem, path = _filesystem(location)
    with suppress(PermissionError):
        filesystem.call_s3("list_objects_v2", Bucket=path.split("/", 1)[0], MaxKeys=1)


def sibling(location: Location, name: str) -> str:
    """The location named ``name`` in the same folder or S3 prefix as ``location``."""
    text = str(location)
    head, separator, _ = text.rstrip("/").rpartition("/")
    return f"{head}{separator}{name}" if separator else name


def _companion(output: Location, suffix: str) -> str:
    """The file named after the whole name of ``output`` plus ``suffix``, beside it."""
    return sibling(output, location_name(output) + suffix)


def rejects_location(output: Location) -> str:
    """Where a batch output's rejects are, beside it: ``scored.csv.gz`` ->
    ``scored.csv.gz.rejects.csv``, a path or an ``s3://`` key. Named from the whole output
    name, so ``scored.csv`` and ``scored.parquet`` in one folder keep their own."""
    return _companion(output, ".rejects.csv")


def summary_location(output: Location) -> str:
    """Where a batch output's summary is, beside it: ``scored.csv.gz`` ->
    ``scored.csv.gz.summary.json``, a path or an ``s3://`` key (named as
    :func:`rejects_location` is). Batch prediction writes it; monitoring and the SQS worker
    read it, so the one rule lives here, below all three."""
    return _companion(output, ".summary.json")
