"""Log predictions off the request path, through a local spool while the database is away
(docs/decisions.md, "Prediction log")."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sentimentops.config import PredictionLogSettings
from sentimentops.errors import PredictionLogUnavailableError
from sentimentops.prediction_log.spool import Spool, SpoolStats, check_folder
from sentimentops.prediction_log.store import PredictionLogStore, PredictionRecord

__all__ = ["LogStatus", "PredictionLogWriter"]

logger = logging.getLogger(__name__)

# After close() times out, how long the write attempt in progress may take to finish.
LAST_ATTEMPT_GRACE_SECONDS: Final = 6.0
# A write hanging longer than this is an outage: new records go to the spool, not the queue.
STALL_SECONDS: Final = 2.0
DROP_LOG_INTERVAL_SECONDS: Final = 60.0
# Records per replay transaction: a backlog replays 40% faster in batches of 1,000 than 256.
REPLAY_BATCH_SIZE: Final = 1000


@dataclass(frozen=True)
class LogStatus:
    """The writer's books: what waits (in memory, in the spool) and what became of the rest."""

    queue_depth: int
    spool: SpoolStats
    written: int  # rows inserted
    replayed: int  # records delivered from the spool
    dropped: int
    rejected: int
    database_available: bool
    # Taken off the queue for the batch being written: in neither the database nor the spool.
    writing: int = 0

    @property
    def in_memory(self) -> int:
        """Records only this process holds: queued, or in the batch being written."""
        return self.queue_depth + self.writing

    @property
    def behind(self) -> bool:
        """Records wait in the spool for the database."""
        return self.spool.records > 0


class PredictionLogWriter:
    """Writes records to a :class:`PredictionLogStore` in batches on its own thread, spooling to
    ``spool_dir`` while the database is away; :meth:`start` once, then :meth:`close`.

    Read-only counters: ``written``, ``replayed``, ``dropped``, ``rejected``, ``failed_writes``;
    ``store_available`` is False from a failed write until a write succeeds.
    """

    def __init__(
        self,
        store: PredictionLogStore,
        *,
        spool_dir: Path,
        spool_max_bytes: int,
        queue_size: int,
        batch_size: int,
        flush_seconds: float,
        first_retry_seconds: float = 0.1,
        max_retry_seconds: float = 5.0,
    ) -> None:
        """Size the queue, batches and spool; replay retries back off from ``first_retry_seconds``
        to ``max_retry_seconds``.

        Raises:
            ConfigError: ``spool_dir`` cannot be created or written.
        """
        if min(queue_size, batch_size) < 1 or min(flush_seconds, first_retry_seconds) <= 0:
            raise ValueError("queue_size and batch_size must be >= 1, the durations positive")
        check_folder(spool_dir)  # a folder that cannot be used is a setting to fix before serving
        self._store = store
        self.spool_dir = spool_dir
        self._spool_max_bytes = spool_max_bytes
        self._spool: Spool | None = None
        # None in the queue is close()'s wake-up call to a writer waiting for a batch to fill.
        self._queue: queue.Queue[PredictionRecord | None] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._first_retry_seconds = first_retry_seconds
        self._max_retry_seconds = max(max_retry_seconds, first_retry_seconds)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # no more submissions: flush, then stop
        self._give_up = threading.Event()  # close() ran out of time: stop writing
        # Guards the queue/spool switch: no record is left in the queue once spooling.
        self._route_lock = threading.Lock()
        self._spooling = False
        self._db_call_started: float | None = None
        self._replay_failures = 0
        self._lock = threading.Lock()  # guards the counters
        self._in_flight = 0  # taken from the queue, neither delivered, spooled nor dropped
        self.written = self.replayed = self.dropped = self.rejected = self.failed_writes = 0
        self.store_available = True
        self._drops_unreported = 0
        self._drops_reported_at = float("-inf")

    @classmethod
    def from_settings(
        cls, store: PredictionLogStore, settings: PredictionLogSettings, home: Path
    ) -> PredictionLogWriter:
        """A writer sized by the ``prediction_log`` settings, spooling under ``home`` by default."""
        sizes = settings.model_dump(
            include={"queue_size", "batch_size", "flush_seconds", "spool_max_bytes"}
        )
        return cls(store, spool_dir=settings.resolved_spool_dir(home), **sizes)

    def start(self) -> None:
        """Open the spool (adopting files left by stopped servers) and start the writing thread.
        RuntimeError when started before, ConfigError when the spool folder cannot be used."""
        if self._thread is not None:
            raise RuntimeError("This PredictionLogWriter was already started; start it once.")
        self._spool = Spool(self.spool_dir, self._spool_max_bytes)
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    def submit(self, record: PredictionRecord) -> bool:
        """:meth:`submit_many` of one record."""
        return self.submit_many([record])

    def submit_many(self, records: Sequence[PredictionRecord]) -> bool:
        """Queue ``records``, or commit them to the spool while spooling; never raises.
        False (counted in ``dropped``) when the spool is full or the writer is closed."""
        spool = self._spool
        if self._closing.is_set() or spool is None:
            self._drop(len(records))
            return False
        with self._route_lock:
            if not self._spooling:
                fits = self._queue.qsize() + len(records) <= self._queue.maxsize
                if fits and not self._stalled():
                    for record in records:
                        self._queue.put_nowait(record)
                    return True
                self._start_spooling("the database is not keeping up")
            spooled = spool.append(records)
        self._drop(len(records) - spooled)
        return spooled == len(records)

    def close(self, timeout: float = 10.0) -> int:
        """Stop accepting records; flush the queue and replay the spool within ``timeout``.
        Returns how many records are neither in the database nor in the spool."""
        self._closing.set()
        with contextlib.suppress(queue.Full):  # full: the writer is not waiting for records
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._give_up.set()
                self._thread.join(LAST_ATTEMPT_GRACE_SECONDS)
        queued = [record for record in self._drain_queue() if record is not None]
        lost = len(queued) - (self._spool.append(queued) if self._spool and queued else 0)
        self._drop(lost)
        hung = self._thread is not None and self._thread.is_alive()
        with self._lock:
            lost += self._in_flight if hung else 0
        if self._spool is not None and not hung:  # a hung thread may still touch it
            self._spool.close()
        if lost:
            logger.warning("Prediction log writer closed with %d records not logged", lost)
        return lost

    def __enter__(self) -> PredictionLogWriter:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def note_unavailable(self) -> None:
        """Count the database as away (``status()`` says so) until a write succeeds: for a
        failure seen before any write, such as the start-up migration's."""
        with self._lock:
            self.store_available = False

    @property
    def queue_depth(self) -> int:
        """Records waiting in the queue (not counting the batch being written)."""
        return self._queue.qsize()

    def status(self) -> LogStatus:
        """The books now (an unopened spool reads as empty)."""
        spool = (
            self._spool.stats()
            if self._spool is not None
            else SpoolStats(records=0, bytes=0, max_bytes=self._spool_max_bytes, oldest=None)
        )
        with self._lock:
            return LogStatus(
                queue_depth=self.queue_depth,
                spool=spool,
                written=self.written,
                replayed=self.replayed,
                dropped=self.dropped,
                rejected=self.rejected,
                database_available=self.store_available,
                writing=self._in_flight,
            )

    def _run(self) -> None:
        assert self._spool is not None
        replay_stopped = False  # closing, and the database failed: the spool keeps the rest
        while not self._give_up.is_set():
            backlog = self._spooling or self._spool.records > 0
            batch = self._next_batch(wait=not backlog)
            if batch:
                self._deliver(batch)
            elif backlog and not replay_stopped:
                closing = self._closing.is_set()  # before the attempt: it may end a wait
                replay_stopped = not self._replay_next() and closing
            elif self._closing.is_set():
                return

    def _next_batch(self, *, wait: bool) -> list[PredictionRecord]:
        """Up to ``batch_size`` records, waiting at most ``flush_seconds`` if ``wait``."""
        batch: list[PredictionRecord] = []
        deadline = time.monotonic() + (self._flush_seconds if wait else 0)
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0 or self._closing.is_set():
                    record = self._queue.get_nowait()
                else:
                    record = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if record is not None:
                batch.append(record)
                # Counted as taken, not once the batch is full: it may fill for flush_seconds.
                with self._lock:
                    self._in_flight += 1
        return batch

    def _deliver(self, batch: list[PredictionRecord]) -> None:
        """Write ``batch`` to the database, else to the spool's front: it left the queue before
        any switch to spooling, so it is older than every spooled record."""
        assert self._spool is not None
        try:
            self._write(batch)
        except PredictionLogUnavailableError as error:
            with self._route_lock:
                self._start_spooling(str(error))
                spooled = self._spool.append(batch, front=True)
            self._drop(len(batch) - spooled)
        finally:
            with self._lock:
                self._in_flight -= len(batch)

    def _replay_next(self) -> bool:
        """Replay the spool's next batch; False when the database failed (after a backoff)."""
        assert self._spool is not None
        head = self._spool.head(max(self._batch_size, REPLAY_BATCH_SIZE))
        if head is None:
            self._stop_spooling_if_caught_up()
            return True
        file, spooled = head
        records = [item.record for item in spooled if item.record is not None]
        try:
            delivered = self._write(records)
        except PredictionLogUnavailableError as error:
            with self._route_lock:  # new records too: the database is away
                self._start_spooling(str(error))
            wait = self._first_retry_seconds * 2 ** min(self._replay_failures, 30)
            self._replay_failures += 1
            self._closing.wait(min(wait, self._max_retry_seconds))  # close() cuts it short
            return False
        self._replay_failures = 0
        # Counted before the spool lets go of them: status() reads the spool, then the counts,
        # so an empty spool never shows beside a count without its replayed records.
        with self._lock:
            self.replayed += delivered
            self.rejected += len(spooled) - len(records)
        self._spool.remove_through(file, spooled[-1].seq)
        if len(records) < len(spooled):
            logger.error(
                "%d records in the prediction log spool %s could not be read back; not logged",
                len(spooled) - len(records),
                file.path,
            )
        self._stop_spooling_if_caught_up()
        return True

    def _write(self, records: list[PredictionRecord]) -> int:
        """Write ``records`` (one by one if the batch is refused); returns how many the database
        holds now. Raises PredictionLogUnavailableError when it cannot be used."""
        if not records:  # nothing asked of the database: nothing learnt about it either
            return 0
        try:
            inserted = self._timed(self._store.write_predictions, records)
        except PredictionLogUnavailableError:
            with self._lock:
                self.failed_writes += 1
                self.store_available = False
            raise
        except Exception:
            with self._lock:
                self.failed_writes += 1
            if len(records) > 1:
                return sum(self._write([record]) for record in records)
            logger.exception(
                "The prediction log refused the record of request %r; it is not logged",
                records[0].request_id,
            )
            with self._lock:
                self.rejected += 1
            return 0
        with self._lock:
            self.written += inserted
            outage_ends, self.store_available = not self.store_available, True
        if outage_ends:
            logger.info("Prediction log database available again")
        return len(records)

    def _timed(
        self, write: Callable[[list[PredictionRecord]], int], records: list[PredictionRecord]
    ) -> int:
        self._db_call_started = time.monotonic()
        try:
            return write(records)
        finally:
            self._db_call_started = None

    def _stalled(self) -> bool:
        started = self._db_call_started
        return started is not None and time.monotonic() - started > STALL_SECONDS

    def _start_spooling(self, reason: str) -> None:
        """Route records to the spool, moving the queue there first. Hold ``_route_lock``."""
        assert self._spool is not None
        if self._spooling:
            return
        self._spooling = True
        queued = [record for record in self._drain_queue() if record is not None]
        if queued:
            self._drop(len(queued) - self._spool.append(queued))
        logger.warning(
            "Prediction log behind (%s); spooling records to %s (at most %d bytes) and "
            "replaying them once the database takes them",
            reason,
            self._spool.folder,
            self._spool.max_bytes,
        )

    def _stop_spooling_if_caught_up(self) -> None:
        assert self._spool is not None
        with self._route_lock:
            if self._spooling and not self._spool.own.records:
                self._spooling = False
                logger.info("Prediction log caught up: the spool is replayed")

    def _drain_queue(self) -> list[PredictionRecord | None]:
        drained: list[PredictionRecord | None] = []
        with contextlib.suppress(queue.Empty):
            while True:
                drained.append(self._queue.get_nowait())
        return drained

    def _drop(self, count: int) -> None:
        """Count ``count`` records as dropped; say so at most once a minute."""
        if count <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self.dropped += count
            self._drops_unreported += count
            report = now - self._drops_reported_at >= DROP_LOG_INTERVAL_SECONDS
            if report:
                unreported, self._drops_unreported = self._drops_unreported, 0
                self._drops_reported_at = now
        if not report:
            return
        if self._spool is None or self._closing.is_set():
            logger.warning("Prediction log writer closed: %d records not logged", unreported)
            return
        stats = self._spool.stats()
        logger.error(
            "Prediction log spool full (%d of %d bytes used, %d records in %s): dropped %d "
            "records since the last report, %d in all",
            *(stats.bytes, stats.max_bytes, stats.records, self._spool.folder),
            *(unreported, self.dropped),
        )
