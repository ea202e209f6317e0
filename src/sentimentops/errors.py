"""The exception tree of sentimentops. Each class carries the exit code the CLI returns and the
HTTP status the API answers with, so the edges map errors in one place. Messages are shown to
users as they are: what was wrong, where, what to do. (Exit 3, a monitoring alert, is a verdict.)"""

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
    """A key or derived name would escape its folder or prefix (``..``, absolute): refused."""


class DataError(BadInputError):
    """A dataset cannot be read: missing, unknown format, undecodable, no text column."""


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
    """The prediction log database is unreachable, locked, or lacks tables or privileges now."""

    http_status = 503


class StorageFullError(SentimentOpsError):
    """The disk (or quota) an output is written to is full: ENOSPC, EDQUOT or EFBIG."""

    http_status = 507


class StorageUnavailableError(SentimentOpsError):
    """The object store (S3) failed or did not answer after the client's retries."""

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
