"""The background writer: batches, a full queue, outages of a real PostgreSQL, catching up."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator

import pytest

from sentimentops.prediction_log import PredictionLogStore, PredictionLogWriter
from tests.prediction_log.concurrency import errors_of_concurrent_calls
from tests.prediction_log.sample_records import sample_record, sample_records
from tests.prediction_log.tcp_proxy import TcpProxy

WRITER_LOGGER = "sentimentops.prediction_log.writer"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test (here, in the caller's traceback) if it
    does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the awaited condition did not hold within {timeout} s")
        time.sleep(0.01)


def quick_writer(store: PredictionLogStore, *, queue_size: int = 1000) -> PredictionLogWriter:
    """A writer with short waits, so that tests take fractions of a second."""
    return PredictionLogWriter(
        store,
        queue_size=queue_size,
        batch_size=7,
        flush_seconds=0.05,
        first_retry_seconds=0.02,
        max_retry_seconds=0.2,
    )


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


def test_close_writes_every_queued_record_in_batches(sqlite_store: PredictionLogStore) -> None:
    writer = quick_writer(sqlite_store)
    writer.start()
    accepted = [writer.submit(record) for record in sample_records(100)]

    unwritten = writer.close()

    assert all(accepted)
    assert unwritten == 0
    assert writer.written == 100
    assert sqlite_store.count_predictions() == 100
    assert sqlite_store.read_window()["request_id"].is_unique


def test_a_partial_batch_is_written_after_flush_seconds(sqlite_store: PredictionLogStore) -> None:
    with quick_writer(sqlite_store) as writer:
        for record in sample_records(3):
            writer.submit(record)

        wait_until(lambda: sqlite_store.count_predictions() == 3)  # before close, with 7 per batch


def test_a_full_queue_drops_and_counts_new_records(sqlite_store: PredictionLogStore) -> None:
    writer = quick_writer(sqlite_store, queue_size=3)  # not started: nothing leaves the queue

    accepted = [writer.submit(record) for record in sample_records(5)]

    assert accepted == [True, True, True, False, False]
    assert (writer.queue_depth, writer.dropped) == (3, 2)
    writer.start()
    assert writer.close() == 0
    assert sqlite_store.count_predictions() == 3


def test_a_closed_writer_refuses_records(sqlite_store: PredictionLogStore) -> None:
    with quick_writer(sqlite_store) as writer:
        pass

    assert writer.submit(sample_record(0)) is False
    assert writer.dropped == 1


def test_writer_retains_through_an_outage_and_catches_up(
    proxy: TcpProxy,
    proxied_store: PredictionLogStore,
    postgres_store: PredictionLogStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = quick_writer(proxied_store, queue_size=20)
    writer.start()
    for record in sample_records(10):
        writer.submit(record)
    wait_until(lambda: writer.written == 10)

    proxy.stop()
    with caplog.at_level(logging.WARNING, logger=WRITER_LOGGER):
        for record in sample_records(5, first=10):
            writer.submit(record)
        wait_until(lambda: not writer.store_available)  # the writer now retains what it took
        started = time.monotonic()
        accepted = [writer.submit(record) for record in sample_records(40, first=15)]
        submitting_took = time.monotonic() - started
        queue_depth_during_outage = writer.queue_depth
        wait_until(lambda: writer.failed_writes >= 3)  # several retries, still one warning
    outage_warnings = [r for r in caplog.records if r.name == WRITER_LOGGER]
    dropped_during_outage = writer.dropped

    proxy.start()
    wait_until(lambda: writer.store_available and writer.queue_depth == 0)
    wait_until(lambda: writer.written == 55 - dropped_during_outage)
    unwritten = writer.close()

    assert submitting_took < 1.0  # 40 submissions while the database was gone
    assert queue_depth_during_outage == 20
    assert dropped_during_outage == accepted.count(False) >= 20
    assert len(outage_warnings) == 1
    assert unwritten == 0
    assert writer.dropped == dropped_during_outage
    assert postgres_store.count_predictions() == 55 - dropped_during_outage


@pytest.fixture
def writer_in_outage(
    proxy: TcpProxy, proxied_store: PredictionLogStore
) -> Iterator[PredictionLogWriter]:
    """A started writer holding 12 records it could not write: ``proxy`` is stopped."""
    writer = quick_writer(proxied_store)
    writer.start()
    proxy.stop()
    for record in sample_records(12):
        writer.submit(record)
    wait_until(lambda: not writer.store_available)
    yield writer
    writer.close(timeout=0.1)  # a no-op unless the test failed before closing it


def test_close_reports_what_it_could_not_write_during_an_outage(
    writer_in_outage: PredictionLogWriter, postgres_store: PredictionLogStore
) -> None:
    started = time.monotonic()
    unwritten = writer_in_outage.close(timeout=0.5)

    assert time.monotonic() - started < 3.0
    assert unwritten == 12
    assert writer_in_outage.written == 0
    assert postgres_store.count_predictions() == 0


def test_close_waits_out_a_short_outage(
    writer_in_outage: PredictionLogWriter, proxy: TcpProxy, postgres_store: PredictionLogStore
) -> None:
    proxy.start()

    assert writer_in_outage.close(timeout=10.0) == 0
    assert postgres_store.count_predictions() == 12


def test_a_record_the_database_refuses_costs_only_itself(
    postgres_store: PredictionLogStore, caplog: pytest.LogCaptureFixture
) -> None:
    # An endpoint over the column's 255 characters: PostgreSQL refuses it, SQLite would not.
    refused = dataclasses.replace(sample_record(3), endpoint="/" + "x" * 300)

    with quick_writer(postgres_store) as writer:
        for record in [*sample_records(3), refused, *sample_records(3, first=4)]:
            writer.submit(record)
    window = postgres_store.read_window()

    assert writer.rejected == 1
    assert writer.written == 6
    assert writer.store_available
    assert "request-3" not in set(window["request_id"])
    assert len(window) == 6
    assert any("request-3" in record.getMessage() for record in caplog.records)


def test_text_postgres_cannot_hold_is_stored_replaced(postgres_store: PredictionLogStore) -> None:
    # NUL and lone surrogates are refused by PostgreSQL and by UTF-8: the stored copy replaces
    # them, while length and hash still describe the text as received.
    with quick_writer(postgres_store) as writer:
        writer.submit(sample_record(1, text="nul \x00 byte"))
        writer.submit(sample_record(2, text="lone \ud800 surrogate"))
    window = postgres_store.read_window()

    assert writer.rejected == 0
    assert window["text"].tolist() == ["nul \ufffd byte", "lone ? surrogate"]
    assert window["text_length"].tolist() == [len("nul \x00 byte"), len("lone \ud800 surrogate")]


def test_concurrent_submitters_on_postgres(postgres_store: PredictionLogStore) -> None:
    threads, per_thread = 8, 100
    writer = quick_writer(postgres_store, queue_size=threads * per_thread)
    writer.start()

    def submit_all(thread: int) -> None:
        for record in sample_records(per_thread, first=thread * per_thread):
            assert writer.submit(record)

    errors = errors_of_concurrent_calls(submit_all, range(threads))
    unwritten = writer.close()

    assert errors == []
    assert (unwritten, writer.dropped) == (0, 0)
    assert postgres_store.count_predictions() == threads * per_thread


def test_close_wakes_a_writer_waiting_for_a_batch_to_fill(
    sqlite_store: PredictionLogStore,
) -> None:
    writer = PredictionLogWriter(sqlite_store, queue_size=100, batch_size=7, flush_seconds=60)
    writer.start()
    for record in sample_records(3):  # fewer than a batch: the writer waits for more
        writer.submit(record)
    wait_until(lambda: writer.queue_depth == 0)

    started = time.monotonic()
    unwritten = writer.close(timeout=5.0)

    assert time.monotonic() - started < 2.0
    assert (unwritten, writer.written) == (0, 3)
    assert sqlite_store.count_predictions() == 3
