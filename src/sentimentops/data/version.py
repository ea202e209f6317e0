"""Content digests, the versions lineage records: they depend only on column names, row order
and values, never on file format, pandas version or machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["frame_digest", "json_digest", "sha256_file", "short_digest", "text_fingerprints"]


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks so memory stays flat."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _json_fallback(value: Any) -> Any:
    if hasattr(value, "item"):  # a numpy scalar left inside an object column
        return value.item()
    return str(value)


def frame_digest(frame: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The hex sha256 of ``columns`` (default: all) of a frame, index ignored; restrict it to the
    columns that define the data, so a bookkeeping column does not change the version."""
    names = sorted(columns if columns is not None else [str(c) for c in frame.columns])
    digest = hashlib.sha256()
    digest.update(json.dumps({"columns": names, "rows": len(frame)}).encode())
    for name in names:
        # JSON-stable: tolist() makes numpy scalars Python ones, where() NaN, NA and NaT None.
        values = frame[name].astype(object).where(frame[name].notna(), None).tolist()
        digest.update(json.dumps(values, default=_json_fallback).encode("ascii"))
    return digest.hexdigest()


def json_digest(content: Any) -> str:
    """The hex sha256 of JSON content with sorted keys: equal content, equal digest."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def short_digest(digest: str) -> str:
    """The first 12 hex characters, for tables and log lines."""
    return digest[:12]


def text_fingerprints(texts: Iterable[str]) -> np.ndarray:
    """A uint64 fingerprint per text, the first 8 bytes of its sha256: small enough to keep with
    every model, and two of 50,000 texts collide with a chance below one in ten billion."""
    digests = b"".join(hashlib.sha256(text.encode("utf-8")).digest()[:8] for text in texts)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)
