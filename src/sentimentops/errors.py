"""The exception tree: each class carries its CLI exit code and HTTP status (exit 3, an alert, is
a verdict, not an error). Messages reach users as they are: what was wrong, where, what to do."""

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

    def __init_subclass__(cls, *, exit_code: int = 0, http_status: int = 0, **kwargs: Any) -> None:
        """A subclass's own exit code and HTTP status, given as class keywords (else inherited)."""
        super().__init_subclass__(**kwargs)
        cls.exit_code = exit_code or cls.exit_code
        cls.http_status = http_status or cls.http_status


class BadInputError(SentimentOpsError, exit_code=2, http_status=422):
    """The input (a file, an argument, a setting) cannot be used as given."""


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


class DownloadError(SentimentOpsError, http_status=502):
    """A remote source could not be fetched."""


class TrackingUnavailableError(SentimentOpsError, http_status=503):
    """The MLflow tracking store or registry cannot be reached."""


class PredictionLogUnavailableError(SentimentOpsError, http_status=503):
    """The prediction log database is unreachable, locked, or lacks tables or privileges now."""


class StorageFullError(SentimentOpsError, http_status=507):
    """The disk (or quota) an output is written to is full: ENOSPC, EDQUOT or EFBIG."""


class StorageUnavailableError(SentimentOpsError, http_status=503):
    """The object store (S3) failed or did not answer after the client's retries."""


class ModelNotFoundError(SentimentOpsError, exit_code=2, http_status=404):
    """No model exists under the given name, alias, version or path."""


class ModelIntegrityError(SentimentOpsError, exit_code=2):
    """A model's files are not the bytes recorded when it was saved: refused, never loaded."""


class RejectLimitExceededError(SentimentOpsError, exit_code=4):
    """A batch run rejected more rows than its configured limit allows."""
