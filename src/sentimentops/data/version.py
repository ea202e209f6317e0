"""Content digests: the versions of datasets and splits that lineage records.

A digest depends only on the content (column names, row order and values), not on the file
format, pandas version or machine, so the same data gives the same digest everywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["frame_digest", "json_digest", "sha256_file", "short_digest", "text_fingerprints"]

_CHUNK_BYTES = 1 << 20


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _column_values(column: pd.Series) -> list[Any]:
    """JSON-stable values: numpy scalars become Python ones, every missing value becomes None."""
    # tolist() turns numpy scalars into Python ones; where() maps NaN, NA and NaT to None.
    return column.astype(object).where(column.notna(), None).tolist()


def _json_fallback(value: Any) -> Any:
    if hasattr(value, "item"):  # a numpy scalar left inside an object column
        return value.item()
    return str(value)


def frame_digest(frame: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The hex sha256 of a frame's content: sorted column names, then each column's values in row
    order, serialised as ASCII JSON. The index is ignored.

    Args:
        frame: the data.
        columns: the columns to include (default: all). Restrict to the columns that define the
            data (text and label) so an added bookkeeping column does not change the version.
    """
    names = sorted(columns if columns is not None else [str(c) for c in frame.columns])
    digest = hashlib.sha256()
    digest.update(json.dumps({"columns": names, "rows": len(frame)}).encode())
    for name in names:
        values = _column_values(frame[name])
        digest.update(json.dumps(values, default=_json_fallback).encode("ascii"))
    return digest.hexdigest()


def json_digest(content: Any) -> str:
    """The hex sha256 of JSON-serialisable content with sorted keys: equal content, equal
    digest (settings hashes, fingerprints, cache keys)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def short_digest(digest: str) -> str:
    """The first 12 hex characters, for tables and log lines."""
    return digest[:12]


def text_fingerprints(texts: Iterable[str]) -> np.ndarray:
    """A 64-bit fingerprint per text (uint64): the first 8 bytes of its UTF-8 sha256. Equal
    texts, equal fingerprints, on every machine; two different texts among 50,000 share one with
    a chance below one in ten billion. Small enough to keep with every model version."""
    digests = b"".join(hashlib.sha256(text.encode("utf-8")).digest()[:8] for text in texts)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)
