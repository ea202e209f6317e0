"""Local paths and ``s3://`` URIs behind one type, and storage failures as errors of ours."""

from sentimentops.storage.failures import (
    object_store_error,
    object_store_misconfiguration,
    object_store_outage,
    object_store_refusal,
    storage_errors,
)
from sentimentops.storage.location import (
    REJECTS,
    SUMMARY,
    Location,
    LocationLike,
    contained_path,
)

__all__ = [
    "REJECTS",
    "SUMMARY",
    "Location",
    "LocationLike",
    "contained_path",
    "object_store_error",
    "object_store_misconfiguration",
    "object_store_outage",
    "object_store_refusal",
    "storage_errors",
]
