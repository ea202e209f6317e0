"""The spool on a real disk: order, durability through SIGKILL, adoption, limits, windows."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from sentimentops.errors import ConfigError
from sentimentops.prediction_log import PredictionLogStore, PredictionLogWriter, spooled_between
from sentimentops.prediction_log.spool import Spool, decode, encode
from tests.prediction_log.sample_records import START, sample_record, sample_records

REPO = Path(__file__).resolve().parents[2]


def request_ids(spool: Spool, limit: int = 1000) -> list[str]:
    head = spool.head(limit)
    assert head is not None
    return [item.record.request_id for item in head[1] if item.record is not None]


def disk_size(path: Path) -> int:
    """The size of the SQLite file at ``path`` with its write-ahead log copied in."""
    with contextlib.closing(sqlite3.connect(path)) as other:
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def test_records_come_back_in_order_and_leave_once_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 2**20)
    try:
        assert spool.append(sample_records(3)) == 3
        assert spool.append(sample_records(2, first=3)) == 2
        assert spool.append(sample_records(2, first=100), front=True) == 2
        file, head = spool.head(4) or (None, [])
        assert file is not None
        assert [item.record.request_id for item in head if item.record] == [
            "request-100",
            "request-101",
            "request-0",
            "request-1",
        ]

        removed = spool.remove_through(file, head[-1].seq)

        assert removed == 4
        assert request_ids(spool) == ["request-2", "request-3", "request-4"]
        assert spool.stats().records == 3
        assert spool.stats().oldest == START + timedelta(seconds=2)
    finally:
        spool.close()


def test_a_record_round_trips_whatever_its_text(tmp_path: Path) -> None:
    records = [
        sample_record(0, text="nul \x00 byte"),
        sample_record(1, text="lone \ud800 surrogate"),
        sample_record(2, text="émouvant, 感動的"),
        sample_record(3, store_text=False),
    ]

    assert [decode(encode(record)) for record in records] == records
    assert decode(b'{"not": "a record"}') is None


def test_an_acknowledged_append_survives_sigkill(tmp_path: Path) -> None:
    """A process appends one record at a time and says so after each commit, then is killed
    with SIGKILL: the next spool on the folder holds every record acknowledged."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from sentimentops.prediction_log.spool import Spool
        from tests.prediction_log.sample_records import sample_record
        spool = Spool(Path({str(tmp_path)!r}), 2**30)
        for index in range(300):
            assert spool.append([sample_record(index)]) == 1
            print(index, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    acknowledged = len(killed.stdout.split())

    spool = Spool(tmp_path, 2**30)
    try:
        adopted = spool.stats().records
        ids = request_ids(spool)
    finally:
        spool.close()

    assert killed.returncode == -9, killed.stderr
    assert acknowledged == 300
    assert adopted == 300
    assert ids == [f"request-{index}" for index in range(300)]


def test_a_full_spool_takes_what_fits_and_no_more(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 64 * 1024)
    try:
        long_text = "x" * 10_000
        one_by_one = [spool.append([sample_record(i, text=long_text)]) for i in range(10)]
        spool.close()
        spool = Spool(tmp_path / "other", 64 * 1024)
        at_once = spool.append([sample_record(i, text=long_text) for i in range(10)])
        stats = spool.stats()
    finally:
        spool.close()

    kept = one_by_one.count(1)
    assert 3 <= kept <= 6  # 10 kB records (three pages each) in 64 KiB, with the file's own
    assert one_by_one == [1] * kept + [0] * (10 - kept)
    assert at_once == kept  # the first ones that fit
    assert stats.records == kept
    assert stats.bytes <= 64 * 1024


def test_an_emptied_spool_gives_its_disk_space_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 2**30)
    try:
        spool.append([sample_record(i, text="y" * 5000) for i in range(200)])
        full = (disk_size(spool.own.path), spool.stats().bytes)
        file, head = spool.head(1000) or (None, [])
        assert file is not None
        spool.remove_through(file, head[-1].seq)
        empty = (disk_size(spool.own.path), spool.stats())
    finally:
        spool.close()

    assert full[0] > 1_000_000
    assert full[1] > 1_000_000
    assert empty[0] < 20_000
    assert (empty[1].records, empty[1].oldest) == (0, None)
    assert empty[1].bytes < 20_000


def test_a_stopped_servers_file_is_adopted_and_replayed_first(tmp_path: Path) -> None:
    stopped = Spool(tmp_path, 2**30)
    stopped.append(sample_records(3))
    stopped.close()  # holding records: kept for the next server

    spool = Spool(tmp_path, 2**30)
    try:
        spool.append(sample_records(1, first=10))
        assert [file.path for file in spool.adopted] == [stopped.own.path]
        assert request_ids(spool) == ["request-0", "request-1", "request-2"]  # adopted first
        file, head = spool.head(10) or (None, [])
        assert file is not None
        spool.remove_through(file, head[-1].seq)
        assert not stopped.own.path.exists()  # an adopted file emptied is deleted
        assert request_ids(spool) == ["request-10"]
    finally:
        spool.close()


def test_a_file_that_is_no_spool_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "records-broken.spool").write_bytes(b"not a database" * 100)

    spool = Spool(tmp_path, 2**30)
    spool.close()

    assert (tmp_path / "records-broken.spool.unreadable").exists()
    assert not (tmp_path / "records-broken.spool").exists()


def test_an_unwritable_spool_folder_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(ConfigError, match="spool_dir"):
        Spool(blocker / "spool", 2**20)


def test_spooled_between_counts_a_window_in_live_and_stopped_files(tmp_path: Path) -> None:
    stopped = Spool(tmp_path, 2**30)
    stopped.append(sample_records(5))  # 12:00:00 to 12:00:04
    stopped.close()
    live = Spool(tmp_path, 2**30)  # adopts the first, appends its own
    try:
        live.append(sample_records(5, first=5))  # 12:00:05 to 12:00:09

        window = spooled_between(
            tmp_path, START + timedelta(seconds=3), START + timedelta(seconds=7)
        )
        everything = spooled_between(tmp_path, None, None)
    finally:
        live.close()

    assert (window, everything) == (4, 10)
    assert spooled_between(tmp_path / "missing", None, None) == 0


def test_a_spooled_record_that_cannot_be_read_back_is_rejected(
    tmp_path: Path, sqlite_store: PredictionLogStore
) -> None:
    stopped = Spool(tmp_path, 2**30)
    stopped.append(sample_records(2))
    path = stopped.own.path
    stopped.close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO records (timestamp, record) VALUES (0, x'7b7d')")  # {}
    raw.close()

    writer = PredictionLogWriter(
        sqlite_store,
        spool_dir=tmp_path,
        spool_max_bytes=2**20,
        queue_size=10,
        batch_size=10,
        flush_seconds=0.05,
    )
    with writer:
        pass  # closing replays what the database takes

    assert (writer.replayed, writer.rejected) == (2, 1)
    assert sqlite_store.count_predictions() == 2
