"""The exception tree of sentimentops.

Every error the project raises on purpose is a :class:`SentimentOpsError`. Each class carries the
exit code the CLI returns for it and the HTTP status the API answers with, so the edges map errors
in one place instead of catching them one by one::

    SentimentOpsError                 exit 1, HTTP 500   unexpected failure of ours
    ├── BadInputError                 exit 2, HTTP 422   the caller gave us something unusable
    │   ├── ConfigError                                  a setting or config file is invalid
    │   ├── UnsafeLocationError                          a key or derived name leaves its root
    │   └── DataError                                    a dataset cannot be read
    │       ├── ChecksumMismatchError                    a file's bytes are not the expected ones
    │       └── DataValidationError                      a dataset was read but is unusable
    ├── DownloadError                 exit 1, HTTP 502   a remote source did not deliver
    ├── TrackingUnavailableError      exit 1, HTTP 503   the MLflow tracking store does not answer
    ├── PredictionLogUnavailableError exit 1, HTTP 503   the prediction log database does not answer
    ├── StorageFullError              exit 1, HTTP 507   no space left where an output is written
    ├── StorageUnavailableError       exit 1, HTTP 503   the object store (S3) fails after retries
    ├── ModelNotFoundError            exit 2, HTTP 404   no model under that name, alias or path
    ├── ModelIntegrityError           exit 2, HTTP 500   a model's bytes changed since it was saved
    └── RejectLimitExceededError      exit 4             a batch rejected too many rows

Exit 3 (a monitoring alert) is a verdict, not an error: the monitoring commands exit with it
themselves.

Messages say what was wrong, where, and what to do about it: they are shown to users as they are.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadInputError",
    "ChecksumMismatchError",
    "ConfigError",
    "DataError",
    "DataValidationError",
    "DownloadError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "PredictionLogUnavailableError",
    "RejectLimitExceededError",
    "SentimentOpsError",
    "StorageFullError",
    "StorageUnavailableError",
    "TrackingUnavailableError",
    "UnsafeLocationError",
]


class SentimentOpsError(Exception):
    """Base of every error sentimentops raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500


class BadInputError(SentimentOpsError):
    """The input (a file, an argument, a setting) cannot be used as given."""

    exit_code = 2
    http_status = 422


class ConfigError(BadInputError):
    """A configuration file or environment variable holds an invalid value."""


class UnsafeLocationError(BadInputError):
    """A location from a message, an object key or a derived name would escape the folder or
    prefix it belongs to (``..`` segments, an absolute path): refused, never normalised."""


class DataError(BadInputError):
    """A dataset cannot be read: missing file, unknown format, undecodable bytes, no text column."""


class ChecksumMismatchError(DataError):
    """A file's sha256 differs from the one recorded for it."""


class DataValidationError(DataError):
    """A dataset was read but fails validation; ``report`` holds the validation summary."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


class DownloadError(SentimentOpsError):
    """A remote source could not be fetched."""

    http_status = 502


class TrackingUnavailableError(SentimentOpsError):
    """The MLflow tracking store or registry cannot be reached."""

    http_status = 503


class PredictionLogUnavailableError(SentimentOpsError):
    """The prediction log database cannot be used now: unreachable, locked, or missing its
    tables or privileges. Writers retry it; a value the database refuses is a different error."""

    http_status = 503


class StorageFullError(SentimentOpsError):
    """The disk (or quota) an output is written to is full: ENOSPC, EDQUOT or EFBIG."""

    http_status = 507


class StorageUnavailableError(SentimentOpsError):
    """The object store (S3 or its stand-in) failed or did not answer, after the client's
    retries: throttling, server errors, an unreachable endpoint."""

    http_status = 503


class ModelNotFoundError(SentimentOpsError):
    """No model exists under the given name, alias, version or path."""

    exit_code = 2
    http_status = 404


class ModelIntegrityError(SentimentOpsError):
    """A model's files are not the bytes recorded when it was saved: refused, never loaded."""

    exit_code = 2


class RejectLimitExceededError(SentimentOpsError):
    """A batch run rejected more rows than its configured limit allows."""

    exit_code = 4
