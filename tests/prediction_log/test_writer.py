"""The background writer: batches, outages of a real PostgreSQL spooled to disk and replayed in
order, a hung database, a full spool, shutdown."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sentimentops.prediction_log import PredictionLogStore, PredictionLogWriter
from sentimentops.prediction_log.spool import Spool
from sentimentops.prediction_log.writer import STALL_SECONDS
from tests.prediction_log.concurrency import errors_of_concurrent_calls
from tests.prediction_log.sample_records import sample_record, sample_records
from tests.prediction_log.tcp_proxy import TcpProxy
from tests.servers import free_port

WRITER_LOGGER = "sentimentops.prediction_log.writer"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test (here, in the caller's traceback) if it
    does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the awaited condition did not hold within {timeout} s")
        time.sleep(0.01)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def quick_writer(
    store: PredictionLogStore,
    spool_dir: Path,
    *,
    queue_size: int = 1000,
    spool_max_bytes: int = 2**30,
) -> PredictionLogWriter:
    """A writer with short waits, so that tests take fractions of a second."""
    return PredictionLogWriter(
        store,
        spool_dir=spool_dir,
        spool_max_bytes=spool_max_bytes,
        queue_size=queue_size,
        batch_size=7,
        flush_seconds=0.05,
        first_retry_seconds=0.02,
        max_retry_seconds=0.2,
    )


def logged_ids(store: PredictionLogStore) -> list[str]:
    """The request ids in the order the rows were inserted."""
    with store.engine.connect() as connection:
        query = sa.text("SELECT request_id FROM predictions ORDER BY id")
        return [row[0] for row in connection.execute(query)]


def ids(first: int, count: int) -> list[str]:
    return [f"request-{index}" for index in range(first, first + count)]


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    """A proxy in front of the local PostgreSQL: stopping it is an outage."""
    with TcpProxy("127.0.0.1", 5432) as running:
        yield running


@pytest.fixture
def proxied_store(proxy: TcpProxy, postgres_url: str) -> Iterator[PredictionLogStore]:
    """A migrated store that reaches its PostgreSQL database through ``proxy``."""
    store = PredictionLogStore(postgres_url.replace(":5432/", f":{proxy.port}/"))
    store.migrate()
    yield store
    store.dispose()


def test_close_writes_every_queued_record_in_batches(
    sqlite_store: PredictionLogStore, spool_dir: Path
) -> None:
    writer = quick_writer(sqlite_store, spool_dir)
    writer.start()
    accepted = [writer.submit(record) for record in sample_records(100)]

    unwritten = writer.close()

    assert all(accepted)
    assert unwritten == 0
    assert writer.written == 100
    assert sqlite_store.count_predictions() == 100
    assert sqlite_store.read_window()["request_id"].is_unique
    assert list(spool_dir.iterdir()) == []  # an empty spool file is removed on close


def test_a_partial_batch_is_written_after_flush_seconds(
    sqlite_store: PredictionLogStore, spool_dir: Path
) -> None:
    with quick_writer(sqlite_store, spool_dir) as writer:
        for record in sample_records(3):
            writer.submit(record)

        wait_until(lambda: sqlite_store.count_predictions() == 3)  # before close, with 7 per batch


def test_a_full_queue_overflows_into_the_spool_in_order(
    postgres_store: PredictionLogStore, postgres_url: str, spool_dir: Path
) -> None:
    writer = quick_writer(postgres_store, spool_dir, queue_size=3)
    blocker = sa.create_engine(postgres_url)
    try:
        with writer, blocker.begin() as lock:
            lock.execute(sa.text("LOCK TABLE predictions IN EXCLUSIVE MODE"))
            writer.submit(sample_record(0))
            wait_until(lambda: writer.queue_depth == 0)  # the writer waits on the lock with it
            accepted = [writer.submit(record) for record in sample_records(5, first=1)]
            during = writer.status()
            lock.commit()
            wait_until(lambda: not writer.status().behind)
    finally:
        blocker.dispose()

    assert accepted == [True] * 5
    assert (during.queue_depth, during.spool.records, during.dropped) == (0, 5, 0)
    assert logged_ids(postgres_store) == ids(0, 6)


def test_a_closed_writer_refuses_records(sqlite_store: PredictionLogStore, spool_dir: Path) -> None:
    with quick_writer(sqlite_store, spool_dir) as writer:
        pass

    assert writer.submit(sample_record(0)) is False
    assert writer.dropped == 1


def test_an_outage_is_spooled_then_replayed_in_order_and_once(
    proxy: TcpProxy,
    proxied_store: PredictionLogStore,
    postgres_store: PredictionLogStore,
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = quick_writer(proxied_store, spool_dir, queue_size=20)
    writer.start()
    for record in sample_records(10):
        writer.submit(record)
    wait_until(lambda: writer.written == 10)

    proxy.stop()
    with caplog.at_level(logging.WARNING, logger=WRITER_LOGGER):
        for record in sample_records(5, first=10):
            writer.submit(record)
        wait_until(lambda: not writer.store_available)  # now every record goes to disk
        started = time.monotonic()
        accepted = [writer.submit(record) for record in sample_records(40, first=15)]
        submitting_took = time.monotonic() - started
        during = writer.status()
        wait_until(lambda: writer.failed_writes >= 3)  # several retries, still one warning
    outage_warnings = [r for r in caplog.records if r.name == WRITER_LOGGER]

    proxy.start()
    wait_until(lambda: not writer.status().behind)
    after = writer.status()
    unwritten = writer.close()

    assert all(accepted)
    assert submitting_took < 2.0  # 40 commits to the spool
    assert (during.queue_depth, during.spool.records, during.dropped) == (0, 45, 0)
    assert during.spool.bytes > 0
    assert during.spool.oldest is not None
    assert len(outage_warnings) == 1
    assert "spooling records to" in outage_warnings[0].getMessage()
    assert (after.replayed, after.written, after.dropped, after.spool.records) == (45, 55, 0, 0)
    assert unwritten == 0
    assert logged_ids(postgres_store) == ids(0, 55)  # spool order: submission order


def test_an_emptied_spool_is_never_seen_without_its_records_counted_as_replayed(
    proxy: TcpProxy,
    proxied_store: PredictionLogStore,
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waiting for the spool to empty (``not status().behind``) must also find the replay
    counted: the flake of the test above, made wide by a pause after each removal."""
    remove_through = Spool.remove_through

    def remove_then_pause(spool: Spool, *args: Any) -> None:
        remove_through(spool, *args)
        time.sleep(0.3)

    writer = quick_writer(proxied_store, spool_dir)
    writer.start()
    proxy.stop()
    for record in sample_records(5):
        writer.submit(record)
    wait_until(lambda: writer.status().spool.records == 5)
    monkeypatch.setattr(Spool, "remove_through", remove_then_pause)
    proxy.start()
    wait_until(lambda: not writer.status().behind)
    caught_up = writer.status()
    writer.close()

    assert (caught_up.spool.records, caught_up.replayed) == (0, 5)


def test_a_replay_after_a_commit_whose_answer_was_lost_adds_no_row(
    sqlite_store: PredictionLogStore, spool_dir: Path
) -> None:
    """A server killed between the database's commit and the spool's removal replays those
    records at the next start: the database skips the ones it has."""
    spool = Spool(spool_dir, 2**30)
    assert spool.append(sample_records(10))
    spool.close()
    sqlite_store.write_predictions(sample_records(7))  # the first 7 went through

    with quick_writer(sqlite_store, spool_dir) as writer:
        wait_until(lambda: not writer.status().behind)

    assert logged_ids(sqlite_store) == ids(0, 10)
    assert (writer.replayed, writer.written) == (10, 3)


def test_a_database_that_hangs_sends_new_records_to_the_spool(
    postgres_store: PredictionLogStore, postgres_url: str, spool_dir: Path
) -> None:
    """A write that waits (here on a table lock) is an outage after STALL_SECONDS: records go
    to disk instead of piling up in memory behind it."""
    writer = quick_writer(postgres_store, spool_dir)
    writer.start()
    blocker = sa.create_engine(postgres_url)
    try:
        with blocker.begin() as lock:
            lock.execute(sa.text("LOCK TABLE predictions IN EXCLUSIVE MODE"))
            writer.submit(sample_record(0))
            time.sleep(STALL_SECONDS + 0.5)  # the writer waits on the lock with record 0
            accepted = [writer.submit(record) for record in sample_records(5, first=1)]
            during = writer.status()
        wait_until(lambda: postgres_store.count_predictions() == 6 and not writer.status().behind)
    finally:
        writer.close()
        blocker.dispose()

    assert all(accepted)
    assert (during.queue_depth, during.spool.records) == (0, 5)
    assert logged_ids(postgres_store) == ids(0, 6)


def test_records_past_a_full_spool_are_dropped_counted_and_reported_once_a_minute(
    sqlite_store: PredictionLogStore, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = PredictionLogStore(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    writer = quick_writer(unreachable, spool_dir, spool_max_bytes=64 * 1024)
    writer.start()
    writer.submit(sample_record(0))
    wait_until(lambda: writer.status().spool.records == 1)  # spooling: the database is away
    text = "x" * 2000

    with caplog.at_level(logging.ERROR, logger=WRITER_LOGGER):
        accepted = [writer.submit(sample_record(i, text=text)) for i in range(1, 100)]
    status = writer.status()
    reports = [
        r.getMessage()
        for r in caplog.records
        if r.name == WRITER_LOGGER and r.levelno >= logging.ERROR
    ]
    unwritten = writer.close(timeout=0.5)
    with quick_writer(sqlite_store, spool_dir) as replaying:
        wait_until(lambda: not replaying.status().behind)

    kept = accepted.count(True)
    assert 10 < kept < 40  # as many 2,000-character texts as fit in 64 KiB
    assert accepted == [True] * kept + [False] * (99 - kept)  # full stays full
    assert status.dropped == writer.dropped == 99 - kept
    assert status.spool.records == 1 + kept
    assert status.spool.bytes <= 64 * 1024
    assert len(reports) == 1
    assert "spool full" in reports[0]
    assert f"of {64 * 1024} bytes used" in reports[0]
    assert unwritten == 0
    assert sqlite_store.count_predictions() + writer.dropped == 100


@pytest.fixture
def writer_in_outage(
    proxy: TcpProxy, proxied_store: PredictionLogStore, spool_dir: Path
) -> Iterator[PredictionLogWriter]:
    """A started writer holding 12 records it could not write: ``proxy`` is stopped."""
    writer = quick_writer(proxied_store, spool_dir)
    writer.start()
    proxy.stop()
    for record in sample_records(12):
        writer.submit(record)
    wait_until(lambda: not writer.store_available)
    yield writer
    writer.close(timeout=0.1)  # a no-op unless the test failed before closing it


def test_close_during_an_outage_leaves_the_records_to_the_next_writer(
    writer_in_outage: PredictionLogWriter,
    proxy: TcpProxy,
    proxied_store: PredictionLogStore,
    postgres_store: PredictionLogStore,
    spool_dir: Path,
) -> None:
    started = time.monotonic()
    unwritten = writer_in_outage.close(timeout=0.5)
    closing_took = time.monotonic() - started
    left = sorted(path.name for path in spool_dir.iterdir())

    proxy.start()
    with quick_writer(proxied_store, spool_dir) as restarted:
        wait_until(lambda: not restarted.status().behind)

    assert closing_took < 3.0
    assert unwritten == 0  # all 12 in the spool
    assert writer_in_outage.written == 0
    assert len([name for name in left if name.endswith(".spool")]) == 1
    assert restarted.replayed == 12
    assert logged_ids(postgres_store) == ids(0, 12)
    assert list(spool_dir.iterdir()) == []  # replayed files and their locks are removed


def test_close_replays_the_spool_once_the_database_is_back(
    writer_in_outage: PredictionLogWriter, proxy: TcpProxy, postgres_store: PredictionLogStore
) -> None:
    proxy.start()

    assert writer_in_outage.close(timeout=10.0) == 0
    assert postgres_store.count_predictions() == 12


def test_a_live_writers_spool_is_not_adopted_by_another(
    sqlite_store: PredictionLogStore, spool_dir: Path
) -> None:
    """Two workers sharing the folder: each replays its own records and the files of servers
    that stopped, never another live one's."""
    unreachable = PredictionLogStore(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    with quick_writer(unreachable, spool_dir) as first:
        for record in sample_records(3):
            first.submit(record)
        wait_until(lambda: first.status().spool.records == 3)

        with quick_writer(sqlite_store, spool_dir) as second:
            time.sleep(0.3)
            assert second.status().spool.records == 0
        assert first.status().spool.records == 3

    assert sqlite_store.count_predictions() == 0


def test_a_record_the_database_refuses_costs_only_itself(
    postgres_store: PredictionLogStore, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An endpoint over the column's 255 characters: PostgreSQL refuses it, SQLite would not.
    refused = dataclasses.replace(sample_record(3), endpoint="/" + "x" * 300)

    with quick_writer(postgres_store, spool_dir) as writer:
        for record in [*sample_records(3), refused, *sample_records(3, first=4)]:
            writer.submit(record)
    window = postgres_store.read_window()

    assert writer.rejected == 1
    assert writer.written == 6
    assert writer.store_available
    assert "request-3" not in set(window["request_id"])
    assert len(window) == 6
    assert any("request-3" in record.getMessage() for record in caplog.records)


def test_text_postgres_cannot_hold_is_stored_replaced(
    postgres_store: PredictionLogStore, spool_dir: Path
) -> None:
    # NUL and lone surrogates are refused by PostgreSQL and by UTF-8: the stored copy replaces
    # them, while length and hash still describe the text as received.
    with quick_writer(postgres_store, spool_dir) as writer:
        writer.submit(sample_record(1, text="nul \x00 byte"))
        writer.submit(sample_record(2, text="lone \ud800 surrogate"))
    window = postgres_store.read_window()

    assert writer.rejected == 0
    assert window["text"].tolist() == ["nul \ufffd byte", "lone ? surrogate"]
    assert window["text_length"].tolist() == [len("nul \x00 byte"), len("lone \ud800 surrogate")]


def test_concurrent_submitters_on_postgres(
    postgres_store: PredictionLogStore, spool_dir: Path
) -> None:
    threads, per_thread = 8, 100
    writer = quick_writer(postgres_store, spool_dir, queue_size=threads * per_thread)
    writer.start()

    def submit_all(thread: int) -> None:
        for record in sample_records(per_thread, first=thread * per_thread):
            assert writer.submit(record)

    errors = errors_of_concurrent_calls(submit_all, range(threads))
    unwritten = writer.close()

    assert errors == []
    assert (unwritten, writer.dropped) == (0, 0)
    assert postgres_store.count_predictions() == threads * per_thread


def writer_waiting_for_a_batch(store: PredictionLogStore, spool_dir: Path) -> PredictionLogWriter:
    """A started writer holding 3 records, off its queue, in a batch of 7 it waits a minute
    to fill."""
    writer = PredictionLogWriter(
        store, spool_dir=spool_dir, spool_max_bytes=2**20, queue_size=100, batch_size=7,
        flush_seconds=60,
    )  # fmt: skip
    writer.start()
    for record in sample_records(3):
        writer.submit(record)
    wait_until(lambda: writer.queue_depth == 0)
    return writer


def test_close_wakes_a_writer_waiting_for_a_batch_to_fill(
    sqlite_store: PredictionLogStore, spool_dir: Path
) -> None:
    writer = writer_waiting_for_a_batch(sqlite_store, spool_dir)

    started = time.monotonic()
    unwritten = writer.close(timeout=5.0)

    assert time.monotonic() - started < 2.0
    assert (unwritten, writer.written) == (0, 3)
    assert sqlite_store.count_predictions() == 3


def test_status_counts_the_records_taken_for_the_batch_being_filled(
    sqlite_store: PredictionLogStore, spool_dir: Path
) -> None:
    writer = writer_waiting_for_a_batch(sqlite_store, spool_dir)
    during = writer.status()
    writer.close()
    after = writer.status()

    # Out of the queue, not in the database: still only in this process's memory.
    assert (during.queue_depth, during.writing, during.in_memory) == (0, 3, 3)
    assert (after.writing, after.in_memory, after.written) == (0, 0, 3)


def _damage_file(path: Path) -> None:
    path.write_bytes(b"not a database " * 7000)  # same inode: no replaced file to migrate again


def _replace_folder_by_file(path: Path) -> None:
    for file in path.parent.iterdir():
        file.unlink()
    path.parent.rmdir()
    path.parent.write_text("a file where the log's folder was\n")


def _restore_folder(path: Path) -> None:
    path.parent.unlink()


@pytest.mark.parametrize(
    ("damage", "repair"),
    [
        (_damage_file, lambda path: path.unlink()),
        (_replace_folder_by_file, _restore_folder),
    ],
    ids=["file-not-a-database", "folder-now-a-file"],
)
def test_a_damaged_sqlite_file_or_folder_is_an_outage_spooled_not_records_refused(
    sqlite_store: PredictionLogStore,
    sqlite_path: Path,
    spool_dir: Path,
    damage: Callable[[Path], None],
    repair: Callable[[Path], None],
) -> None:
    """Each record was 'refused' and dropped (DatabaseError, NotADirectoryError) while the
    health check said ok: a prediction log that loses nothing spools them until repaired."""
    writer = quick_writer(sqlite_store, spool_dir)
    writer.start()
    for record in sample_records(3):
        writer.submit(record)
    wait_until(lambda: writer.written == 3)

    sqlite_store.dispose()  # closed (WAL checkpointed): the connections opened next see it
    damage(sqlite_path)
    for record in sample_records(5, first=3):
        writer.submit(record)
    wait_until(lambda: not writer.store_available)
    wait_until(lambda: writer.status().spool.records == 5)
    during = writer.status()
    repair(sqlite_path)
    wait_until(lambda: not writer.status().behind)
    unwritten = writer.close()

    assert (during.dropped, writer.rejected) == (0, 0)
    assert during.behind
    assert unwritten == 0
    assert logged_ids(sqlite_store) == ids(3, 5)  # the file made again holds every record since


def test_a_record_a_trigger_raises_on_is_refused_alone_not_an_outage(
    postgres_store: PredictionLogStore, spool_dir: Path
) -> None:
    """PL/pgSQL's RAISE EXCEPTION arrives as InternalError: one record refused, not the whole
    log spooled behind a record that would fail at every replay."""
    with postgres_store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN "
                "IF NEW.endpoint = '/boom' THEN RAISE EXCEPTION 'no boom'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON predictions "
                "FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
            )
        )
    refused = dataclasses.replace(sample_record(3), endpoint="/boom")

    with quick_writer(postgres_store, spool_dir) as writer:
        for record in [*sample_records(3), refused, *sample_records(3, first=4)]:
            writer.submit(record)
    status = writer.status()

    assert (writer.rejected, writer.written) == (1, 6)
    assert status.spool.records == 0
    assert logged_ids(postgres_store) == [*ids(0, 3), *ids(4, 3)]
