"""The spool: prediction records on local disk while the log database is away, a SQLite file per
server process, adopted by the next after a crash (docs/decisions.md, "Prediction log")."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

from sentimentops.errors import ConfigError
from sentimentops.prediction_log.store import PredictionRecord

__all__ = ["Spool", "SpoolStats", "SpooledRecord", "check_folder", "spooled_between"]

logger = logging.getLogger(__name__)

SUFFIX: Final = ".spool"
LOCK_SUFFIX: Final = ".lock"
# The write-ahead log is cut back to this after each checkpoint (SQLite checkpoints every 1,000
# pages, 4 MiB): it is the only part of the spool's disk use outside spool_max_bytes.
WAL_SIZE_LIMIT_BYTES: Final = 4 * 1024 * 1024
VACUUM_CHUNK_PAGES: Final = 256  # 1 MiB given back to the disk per step, between appends
_INSERT: Final = "INSERT INTO records (seq, timestamp, record) VALUES (?, ?, ?)"
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS records ("
    " seq INTEGER PRIMARY KEY,"  # rowid: appended in increasing order
    " timestamp REAL NOT NULL,"  # the prediction's, in Unix seconds: windows and ages
    " record BLOB NOT NULL)"
)


@dataclass(frozen=True)
class SpoolStats:
    """What waits in a spool: records, the bytes they take on disk (used pages of the files,
    the write-ahead log aside), the limit, and the timestamp of the next record to replay."""

    records: int
    bytes: int
    max_bytes: int
    oldest: datetime | None


@dataclass(frozen=True)
class SpooledRecord:
    """A record read back from a spool file: its sequence number there, and the record (None
    when its bytes cannot be read back as one: a record of an incompatible version)."""

    seq: int
    record: PredictionRecord | None


def encode(record: PredictionRecord) -> bytes:
    """``record`` as UTF-8 JSON; lone surrogates (valid in JSON texts) pass through."""
    fields = vars(record) | {"timestamp": record.timestamp.isoformat()}
    return json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass")


def decode(payload: bytes) -> PredictionRecord | None:
    """The record :func:`encode` wrote, or None when ``payload`` is not one."""
    try:
        fields = json.loads(payload.decode("utf-8", "surrogatepass"))
        fields["timestamp"] = datetime.fromisoformat(fields["timestamp"])
        return PredictionRecord(**fields)
    except (ValueError, TypeError, KeyError):
        return None


class SpoolFile:
    """One spool file; the methods are not thread-safe (:class:`Spool` serialises them)."""

    def __init__(self, path: Path, lock: IO[bytes]) -> None:
        """Open (creating) ``path``, locked by ``lock``; sqlite3.DatabaseError if not SQLite."""
        self.path = path
        self._lock = lock
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._connection.execute("PRAGMA auto_vacuum=INCREMENTAL")  # before the table
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            self._connection.execute(_SCHEMA)
            self.records = self._scalar("SELECT count(*) FROM records")
            # Reads for the replay on a connection of their own: in WAL mode they do not wait
            # for appends, nor appends for them.
            self._reader = sqlite3.connect(path, check_same_thread=False)
        except BaseException:
            self._connection.close()
            raise
        self._measure()

    def append(
        self, rows: Sequence[tuple[float, bytes]], *, max_bytes: int, front: bool = False
    ) -> int:
        """Append, in one committed transaction, the first ``(timestamp, payload)`` rows that fit
        in ``max_bytes`` (``front``: before the records there); returns how many."""
        with self._transaction():
            first = self._scalar("SELECT coalesce(min(seq), 1) FROM records") if front else 0
            numbered = [
                (first - len(rows) + index if front else None, *row)
                for index, row in enumerate(rows)
            ]
            self._connection.executemany(_INSERT, numbered)
            # Pages, not payload bytes, are what fills the disk: measured inside the
            # transaction, which is undone when they are too many.
            appended = len(rows) if self._used_bytes() <= max_bytes else 0
            if not appended:
                self._connection.execute("ROLLBACK")
                self._connection.execute("BEGIN IMMEDIATE")
                appended = self._append_while_it_fits(numbered, max_bytes)
        self.records += appended
        self._measure()
        return appended

    def _append_while_it_fits(
        self, numbered: Sequence[tuple[int | None, float, bytes]], max_bytes: int
    ) -> int:
        """Insert rows one by one until one takes the file past ``max_bytes`` (undone)."""
        for count, row in enumerate(numbered):
            self._connection.execute("SAVEPOINT one_row")
            self._connection.execute(_INSERT, row)
            if self._used_bytes() > max_bytes:
                self._connection.execute("ROLLBACK TO one_row")
                return count
            self._connection.execute("RELEASE one_row")
        return len(numbered)

    def head(self, limit: int) -> list[tuple[int, bytes]]:
        """The ``limit`` records appended first, as (sequence number, payload). Only the
        thread that removes records may call it (appends may run meanwhile)."""
        query = "SELECT seq, record FROM records ORDER BY seq LIMIT ?"
        return list(self._reader.execute(query, (limit,)))

    def remove_through(self, seq: int) -> int:
        """Remove every record up to sequence number ``seq``; returns how many."""
        with self._transaction():
            removed = self._connection.execute("DELETE FROM records WHERE seq <= ?", (seq,))
        self.records -= removed.rowcount
        self._measure()
        return removed.rowcount

    def give_back_pages(self, pages: int) -> bool:
        """Return up to ``pages`` free pages to the disk; whether free pages remain."""
        # executescript runs the pragma to the end: it frees one page per step.
        self._connection.executescript(f"PRAGMA incremental_vacuum({pages})")
        self.used_bytes = self._used_bytes()
        return self._scalar("PRAGMA freelist_count") > 0

    def close(self, *, delete_if_empty: bool) -> None:
        """Close the file and release its lock; with ``delete_if_empty``, delete an empty one
        (before the lock goes, so no other process adopts a file being deleted)."""
        self._reader.close()
        self._connection.close()
        if delete_if_empty and not self.records:
            for suffix in ("", "-wal", "-shm", LOCK_SUFFIX):  # SQLite's files, then the lock
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self._lock.close()  # releases the flock

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def _measure(self) -> None:
        self.used_bytes = self._used_bytes()
        head = self._connection.execute("SELECT timestamp FROM records ORDER BY seq LIMIT 1")
        self.oldest = None if (row := head.fetchone()) is None else float(row[0])

    def _scalar(self, query: str) -> int:
        return int(self._connection.execute(query).fetchone()[0])

    def _used_bytes(self) -> int:
        pages = self._scalar("PRAGMA page_count") - self._scalar("PRAGMA freelist_count")
        return pages * self._scalar("PRAGMA page_size")


class Spool:
    """The spool folder as one server process sees it: a file of its own, and the files of
    stopped servers it adopted, replayed first; ``max_bytes`` bounds them all. Thread-safe."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        """Adopt the files in ``folder`` no live process holds, start its own; ConfigError when
        the folder cannot be created or written."""
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            check_folder(folder)
            self.adopted = list(_claim_orphans(folder))
            self.own = _new_file(folder)
        except OSError as error:
            raise _unusable(folder, error) from error
        if pending := sum(file.records for file in self.adopted):
            logger.warning(
                "Adopted %d prediction log records spooled by a server that stopped before "
                "writing them (%s); replaying them",
                pending,
                ", ".join(file.path.name for file in self.adopted),
            )

    def append(self, records: Sequence[PredictionRecord], *, front: bool = False) -> int:
        """Append ``records`` to this process's file, committed on return (``front``: before those
        there, then not replaying); returns how many fit in ``max_bytes`` (0 on a disk error)."""
        rows = [(record.timestamp.timestamp(), encode(record)) for record in records]
        with self._lock:
            others = sum(file.used_bytes for file in self.adopted)
            try:
                return self.own.append(rows, max_bytes=self.max_bytes - others, front=front)
            except sqlite3.Error as error:  # a full disk, an I/O error
                logger.error(
                    "Could not append to the prediction log spool %s: %s", self.own.path, error
                )
                return 0

    def head(self, limit: int) -> tuple[SpoolFile, list[SpooledRecord]] | None:
        """The oldest ``limit`` records of the first file holding any (adopted first), or None;
        only for the replaying thread (it does not hold up appends)."""
        for file in [*self.adopted, self.own]:
            if file.records:
                rows = file.head(limit)
                return file, [SpooledRecord(seq, decode(payload)) for seq, payload in rows]
        return None

    def remove_through(self, file: SpoolFile, seq: int) -> int:
        """Remove ``file``'s records up to ``seq`` and return how many; an emptied adopted file is
        deleted, its own gives pages back to the disk a chunk at a time (appends need not wait)."""
        with self._lock:
            removed = file.remove_through(seq)
            if file is not self.own and not file.records:
                file.close(delete_if_empty=True)
                self.adopted.remove(file)
                return removed
        more = not file.records
        while more:
            with self._lock:
                more = not file.records and file.give_back_pages(VACUUM_CHUNK_PAGES)
        return removed

    @property
    def records(self) -> int:
        """Records in every file of the spool."""
        return self.own.records + sum(file.records for file in self.adopted)

    def stats(self) -> SpoolStats:
        """What waits in the spool now."""
        with self._lock:
            files = [*self.adopted, self.own]
            oldest = min((file.oldest for file in files if file.oldest is not None), default=None)
            return SpoolStats(
                records=sum(file.records for file in files),
                bytes=sum(file.used_bytes for file in files),
                max_bytes=self.max_bytes,
                oldest=None if oldest is None else datetime.fromtimestamp(oldest, UTC),
            )

    def close(self) -> None:
        """Close every file: an empty one is deleted, one holding records left for adoption."""
        with self._lock:
            for file in [*self.adopted, self.own]:
                file.close(delete_if_empty=True)
            self.adopted = []


def check_folder(folder: Path) -> None:
    """Create ``folder`` if missing. Raises ConfigError when it cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unusable(folder, error) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _unusable(folder, PermissionError("not writable"))


def _unusable(folder: Path, error: OSError) -> ConfigError:
    return ConfigError(
        f"The prediction log spool folder {folder} cannot be used ({error}): point "
        "prediction_log.spool_dir (SENTIMENTOPS_PREDICTION_LOG__SPOOL_DIR) at a writable "
        "folder on local disk."
    )


def spooled_between(folder: Path, since: datetime | None, until: datetime | None) -> int:
    """How many records timestamped in ``[since, until)`` wait in ``folder``'s spool files (live
    or not), read without locking them; 0 when the folder does not exist."""
    low = -1e18 if since is None else since.timestamp()
    high = 1e18 if until is None else until.timestamp()
    count = 0
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            try:
                query = "SELECT count(*) FROM records WHERE timestamp >= ? AND timestamp < ?"
                count += int(db.execute(query, (low, high)).fetchone()[0])
            except sqlite3.OperationalError as error:
                if "no such table" not in str(error):  # a file created a moment ago
                    raise
    return count


def _new_file(folder: Path) -> SpoolFile:
    """A new spool file, named so that the files sort by creation time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"records-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    lock = _locked(path)
    assert lock is not None, f"{path} is new: nobody else can hold its lock"
    return SpoolFile(path, lock)


def _claim_orphans(folder: Path) -> Iterator[SpoolFile]:
    """The files in ``folder`` no live process holds, oldest first, now locked by this one; one
    that is not a spool is renamed ``.unreadable``."""
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        lock = _locked(path)
        if lock is None:
            continue  # a live server's
        try:
            yield SpoolFile(path, lock)
        except sqlite3.DatabaseError as error:
            lock.close()
            aside = path.with_name(path.name + ".unreadable")
            path.rename(aside)
            logger.error(
                "Prediction log spool file %s is unreadable (%s); moved to %s", path, error, aside
            )


def _locked(path: Path) -> IO[bytes] | None:
    """``path``'s lock file (not the SQLite file: docs/decisions.md), locked exclusively by this
    process; None when another process holds it."""
    lock = path.with_name(path.name + LOCK_SUFFIX).open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock
