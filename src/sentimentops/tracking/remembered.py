"""Registry answers kept on disk for a local SQLite registry and reused while the rows they were
read from are unchanged, so that a command loads the champion without importing MLflow
(docs/decisions.md, "Tracking"). Only the standard library is imported before a hit."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sentimentops.storage import write_atomically
from sentimentops.tracking.fetch import FetchedVersion
from sentimentops.tracking.registry import ModelVersionInfo
from sentimentops.tracking.store import sqlite_file

__all__ = ["Recall", "recall", "remember"]

# Every row of the registered model an answer can be built from, as MLflow wrote it: any change
# (an alias moved, a tag set, a version deleted, MLflow's schema migrated) is a new fingerprint.
_ROWS = (
    "SELECT * FROM alembic_version",
    "SELECT * FROM registered_models WHERE name = :name",
    "SELECT * FROM registered_model_aliases WHERE name = :name ORDER BY alias",
    "SELECT * FROM model_versions WHERE name = :name ORDER BY version",
    "SELECT * FROM model_version_tags WHERE name = :name ORDER BY version, key",
    "SELECT * FROM runs WHERE run_uuid IN (SELECT run_id FROM model_versions WHERE name = :name)"
    " ORDER BY run_uuid",
    "SELECT * FROM latest_metrics WHERE run_uuid IN"
    " (SELECT run_id FROM model_versions WHERE name = :name) ORDER BY run_uuid, key",
)


@dataclass(frozen=True)
class Recall:
    """The remembered answer when still true, and the fingerprint of the registry's rows now
    (None when they cannot be read: then nothing is remembered either)."""

    answer: FetchedVersion | None
    fingerprint: str | None


def recall(uri: str, tracking_uri: str, cache: Path, *, with_reference: bool) -> Recall:
    """What the cache holds for ``uri`` if the registry's rows behind it are unchanged. Never
    raises: another kind of registry, an unreadable database or cache entry is a miss."""
    database = sqlite_file(tracking_uri)
    if database is None or not uri.startswith("models:/"):
        return Recall(None, None)
    try:
        fingerprint = _fingerprint(database, _model_name(uri))
    except sqlite3.Error:
        return Recall(None, None)
    entry = _entry_path(cache, uri, tracking_uri, with_reference)
    try:
        saved = json.loads(entry.read_text(encoding="utf-8"))
        answer = _answer(saved, entry) if saved["fingerprint"] == fingerprint else None
    except (OSError, ValueError, KeyError, TypeError):
        answer = None
    return Recall(answer, fingerprint)


def remember(
    uri: str, tracking_uri: str, cache: Path, answer: FetchedVersion, before: str | None
) -> None:
    """Keep ``answer`` if the registry's rows are still those ``before`` fingerprinted (from
    :func:`recall`, taken before the lookup): a change in between leaves nothing to trust."""
    database = sqlite_file(tracking_uri)
    if database is None or before is None:
        return
    with contextlib.suppress(OSError, ValueError, sqlite3.Error):
        if _fingerprint(database, answer.name) != before:
            return
        entry = _entry_path(cache, uri, tracking_uri, answer.reference is not None)
        cache.mkdir(parents=True, exist_ok=True)
        if answer.reference is not None:
            write_atomically(entry.with_suffix(".parquet"), answer.reference.to_parquet)
        saved = {
            "uri": uri,
            "fingerprint": before,
            "name": answer.name,
            "version": answer.version,
            "info": asdict(answer.info),
            "folder": answer.folder,
        }
        write_atomically(entry, lambda path: path.write_text(json.dumps(saved), encoding="utf-8"))


def _answer(saved: dict[str, Any], entry: Path) -> FetchedVersion | None:
    folder = str(saved["folder"])
    if not Path(folder, "MLmodel").is_file():  # files downloaded to a folder since removed
        return None
    reference = None
    if entry.with_suffix(".parquet").exists():
        import pandas as pd

        reference = pd.read_parquet(entry.with_suffix(".parquet"))
    info = ModelVersionInfo(**saved["info"])
    return FetchedVersion(str(saved["name"]), str(saved["version"]), info, folder, reference)


def _fingerprint(database: Path, name: str) -> str:
    if not database.is_file():  # sqlite3 would create it
        raise sqlite3.OperationalError(f"no database at {database}")
    digest = hashlib.sha256()
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
        for query in _ROWS:
            digest.update(repr(db.execute(query, {"name": name}).fetchall()).encode())
    return digest.hexdigest()


def _model_name(uri: str) -> str:
    reference = uri.removeprefix("models:/")
    return reference.split("@", 1)[0] if "@" in reference else reference.rsplit("/", 1)[0]


def _entry_path(cache: Path, uri: str, tracking_uri: str, with_reference: bool) -> Path:
    key = hashlib.sha256(f"{tracking_uri}\n{uri}\n{with_reference}".encode()).hexdigest()[:24]
    return cache / f"{key}.json"
