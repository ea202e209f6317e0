"""Storage failures as errors of ours: the one place that sorts S3's and the disk's errors.

An outage (throttling, 5xx, timeouts, no answer) is worth retrying; a refusal (no such bucket or
key, access denied, a malformed URI) or missing credentials are not; a full disk needs space.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Literal

from sentimentops.errors import (
    BadInputError,
    ConfigError,
    DataError,
    SentimentOpsError,
    StorageFullError,
    StorageUnavailableError,
)

__all__ = [
    "object_store_error",
    "object_store_misconfiguration",
    "object_store_outage",
    "object_store_refusal",
    "reading_errors",
    "storage_errors",
]

Kind = Literal["credentials", "invalid", "refusal", "outage"]
# No space on the device, the quota exhausted, a file-size limit: all mean "write elsewhere".
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# Set inside a storage_errors block: reads inside it leave their errors to the block's words.
_IN_BLOCK: ContextVar[bool] = ContextVar("sentimentops_storage_block", default=False)


def _object_store_failure(error: BaseException) -> tuple[Kind, BaseException] | None:
    """What kind of S3 failure ``error`` is, and S3's (botocore's) own error behind it."""
    if isinstance(error, SentimentOpsError) or "botocore" not in sys.modules:
        return None  # ours already says what to do; without botocore, S3 was never asked
    from botocore import exceptions as boto

    # s3fs raises S3's answers as an OSError caused by botocore's error, or a ValueError raised
    # while handling it: the first botocore error in the chain is S3's own.
    boto_error = boto.BotoCoreError | boto.ClientError
    cause = next((seen for seen in _chain(error) if isinstance(seen, boto_error)), None)
    if cause is None:
        return None
    if isinstance(cause, boto.NoCredentialsError | boto.PartialCredentialsError):
        return "credentials", cause
    if isinstance(cause, boto.ProfileNotFound):
        return "credentials", cause
    if isinstance(cause, boto.ParamValidationError):
        return "invalid", cause  # refused by the client before sending: a malformed URI
    if isinstance(error, FileNotFoundError | PermissionError):
        return "refusal", cause  # no such bucket or key, access denied
    return "outage", cause


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then its cause (or context), and so on; each once, even in a loop."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _of_kind(error: BaseException, *kinds: Kind) -> BaseException | None:
    failure = _object_store_failure(error)
    return failure[1] if failure is not None and failure[0] in kinds else None


def object_store_error(error: BaseException) -> BaseException | None:
    """S3's error behind ``error`` when it is an S3 failure of any kind, else None."""
    return _of_kind(error, "credentials", "invalid", "refusal", "outage")


def object_store_outage(error: BaseException) -> BaseException | None:
    """S3's error behind ``error`` when S3 failed after its retries (worth retrying), else None."""
    return _of_kind(error, "outage")


def object_store_refusal(error: BaseException) -> BaseException | None:
    """S3's error behind ``error`` when the request cannot succeed: no such bucket or key,
    access denied, a malformed bucket name or key. None otherwise."""
    return _of_kind(error, "refusal", "invalid")


def object_store_misconfiguration(error: BaseException) -> BaseException | None:
    """S3's error behind ``error`` when there were no credentials to sign with (none, half a
    key pair, an ``AWS_PROFILE`` naming no profile). None otherwise."""
    return _of_kind(error, "credentials")


def _endpoint_hint() -> str:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return f"endpoint {endpoint}, from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL"
    return "AWS's own endpoint: no AWS_ENDPOINT_URL is set"


def _translated(
    error: BaseException, doing: str, then: str, refused_as: type[BadInputError], writes: bool
) -> SentimentOpsError | None:
    """The error of ours that ``error`` is, or None when it is not a storage failure."""
    if writes and isinstance(error, OSError) and error.errno in _DISK_FULL:
        return StorageFullError(
            f"Out of space writing {error.filename or 'a file'} ({errno.errorcode[error.errno]}: "
            f"{os.strerror(error.errno)}) while {doing}; no partial file was left as if "
            f"complete. Free space on that disk (or raise its quota or file-size limit), then "
            f"{then}."
        )
    failure = _object_store_failure(error)
    if failure is None:
        return None
    kind, cause = failure
    if kind == "credentials":
        return ConfigError(
            f"No usable AWS credentials while {doing} ({cause}). Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or "
            "AWS_PROFILE naming a profile in ~/.aws/credentials or ~/.aws/config; with "
            "LocalStack or moto, any key pair works and AWS_ENDPOINT_URL must name the endpoint "
            f"({_endpoint_hint()}). Retrying will not help until then; then {then}."
        )
    if kind == "outage":
        return StorageUnavailableError(
            f"The object store failed while {doing} ({cause}), after retrying with backoff. "
            f"Check that S3 answers ({_endpoint_hint()}), then {then}; AWS_MAX_ATTEMPTS sets "
            "how many attempts each request gets."
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
    """Raise a storage failure inside the block as the error of ours that says what to do,
    naming what the block does (``doing``: "scoring s3://b/in.csv into out.csv") and what to do
    once the cause is fixed (``then``). Reads of a Location inside the block leave their
    failures to it. Other errors pass unchanged.

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


def reading_errors(location: object) -> AbstractContextManager[None]:
    """The errors of a read of ``location``: translated as "reading LOCATION" (a refusal as
    DataError), unless a :func:`storage_errors` block around it says what is being done."""
    if _IN_BLOCK.get():
        return nullcontext()
    return _translating(f"reading {location}", "run again", DataError, writes=False)
