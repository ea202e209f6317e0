"""Log predictions off the request path: a bounded queue, one thread, batches, retries.

:meth:`PredictionLogWriter.submit` runs on the request path, so it never blocks and never raises:
when the queue is full the record is dropped and counted. One daemon thread writes batches. While
the database is down the thread keeps its batch, retries with capped exponential backoff and warns
once per outage; the queue fills meanwhile and then overflows into ``dropped``. When the database
is back the thread writes the retained batch, then the backlog.

A batch refused for another reason than an outage (PostgreSQL refuses a NUL character in text,
for instance) is written again one record at a time, so a bad record costs only itself; it is
logged as an error and counted in ``rejected``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from types import TracebackType

from sentimentops.config import PredictionLogSettings
from sentimentops.errors import PredictionLogUnavailableError
from sentimentops.prediction_log.store import PredictionLogStore, PredictionRecord

__all__ = ["PredictionLogWriter"]

logger = logging.getLogger(__name__)

# After close() times out, how long the write attempt in progress may take to finish.
LAST_ATTEMPT_GRACE_SECONDS = 6.0


class PredictionLogWriter:
    """Writes submitted records to a :class:`PredictionLogStore` in batches, on its own thread.

    Call :meth:`start` once and :meth:`close` when done (or use it as a context manager): the
    thread is a daemon, so records still queued when the process exits without ``close`` are lost.
    """

    def __init__(
        self,
        store: PredictionLogStore,
        *,
        queue_size: int,
        batch_size: int,
        flush_seconds: float,
        first_retry_seconds: float = 0.1,
        max_retry_seconds: float = 5.0,
    ) -> None:
        """Prepare the writer; nothing runs until :meth:`start`.

        Args:
            store: where the records go.
            queue_size: records waiting at most; more are dropped.
            batch_size: records written per transaction at most.
            flush_seconds: how long a batch may wait to fill before it is written.
            first_retry_seconds: the wait after the first failed attempt of an outage; it
                doubles after each further one, up to ``max_retry_seconds``.
            max_retry_seconds: the longest wait between attempts.
        """
        if min(queue_size, batch_size) < 1 or min(flush_seconds, first_retry_seconds) <= 0:
            raise ValueError("queue_size and batch_size must be >= 1, the durations positive")
        self._store = store
        self._queue: queue.Queue[PredictionRecord] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._first_retry_seconds = first_retry_seconds
        self._max_retry_seconds = max(max_retry_seconds, first_retry_seconds)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # no more submissions: drain the queue, then stop
        self._give_up = threading.Event()  # close() ran out of time: stop retrying
        self._lock = threading.Lock()  # guards the counters below
        self._in_flight = 0  # taken from the queue, neither written nor rejected yet
        self._written = 0
        self._dropped = 0
        self._rejected = 0
        self._failed_writes = 0
        self._store_available = True  # until a write says otherwise

    @classmethod
    def from_settings(
        cls, store: PredictionLogStore, settings: PredictionLogSettings
    ) -> PredictionLogWriter:
        """A writer sized by the ``prediction_log`` settings."""
        return cls(
            store,
            queue_size=settings.queue_size,
            batch_size=settings.batch_size,
            flush_seconds=settings.flush_seconds,
        )

    def start(self) -> None:
        """Start the writing thread.

        Raises:
            RuntimeError: the writer was started before.
        """
        if self._thread is not None:
            raise RuntimeError("This PredictionLogWriter was already started; start it once.")
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    def submit(self, record: PredictionRecord) -> bool:
        """Queue ``record`` for writing, without blocking and without raising.

        Returns:
            False, counting the record in ``dropped``, when the queue is full or the writer closed.
        """
        if not self._closing.is_set():
            try:
                self._queue.put_nowait(record)
            except queue.Full:
                pass
            else:
                return True
        with self._lock:
            self._dropped += 1
        return False

    def close(self, timeout: float = 10.0) -> int:
        """Stop accepting records, write those still queued while ``timeout`` lasts, then stop.

        When the time runs out the write attempt in progress may take a few seconds more
        (PostgreSQL's connect timeout) before the thread stops.

        Returns:
            How many submitted records were not written: still queued or retained when the
            time ran out. Records the database refused are counted in ``rejected`` instead.
        """
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._give_up.set()
                self._thread.join(LAST_ATTEMPT_GRACE_SECONDS)
        with self._lock:
            unwritten = self._queue.qsize() + self._in_flight
        if unwritten:
            logger.warning("Prediction log writer closed with %d records not written", unwritten)
        return unwritten

    def __enter__(self) -> PredictionLogWriter:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def queue_depth(self) -> int:
        """Records waiting in the queue (not counting the batch being written)."""
        return self._queue.qsize()

    @property
    def written(self) -> int:
        """Records written to the store."""
        with self._lock:
            return self._written

    @property
    def dropped(self) -> int:
        """Records refused by :meth:`submit`: queue full or writer closed."""
        with self._lock:
            return self._dropped

    @property
    def rejected(self) -> int:
        """Records the database refused on their own (not because of an outage)."""
        with self._lock:
            return self._rejected

    @property
    def failed_writes(self) -> int:
        """Write attempts that failed, outage retries included."""
        with self._lock:
            return self._failed_writes

    @property
    def store_available(self) -> bool:
        """False from a write that failed for an outage until the next write that succeeds."""
        with self._lock:
            return self._store_available

    def _run(self) -> None:
        while not self._give_up.is_set():
            batch = self._next_batch()
            if batch:
                self._write(batch)
            elif self._closing.is_set():
                return

    def _next_batch(self) -> list[PredictionRecord]:
        """Up to ``batch_size`` records, waiting at most ``flush_seconds`` for them to come;
        when closing, only those already queued."""
        batch: list[PredictionRecord] = []
        deadline = time.monotonic() + self._flush_seconds
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0 or self._closing.is_set():
                    batch.append(self._queue.get_nowait())
                else:
                    batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        with self._lock:
            self._in_flight += len(batch)
        return batch

    def _write(self, batch: list[PredictionRecord]) -> None:
        """Write ``batch`` through outages; if the database refuses it, write its records one by
        one, so that only the records it refuses are lost."""
        try:
            self._write_through_outages(batch)
        except Exception:
            with self._lock:
                self._failed_writes += 1
            if len(batch) == 1:
                self._reject(batch[0])
            else:
                for record in batch:
                    self._write([record])

    def _reject(self, record: PredictionRecord) -> None:
        """Give up ``record``, logging the exception being handled: why the database refused it."""
        logger.exception(
            "The prediction log refused the record of request %r; it is not logged",
            record.request_id,
        )
        with self._lock:
            self._rejected += 1
            self._in_flight -= 1

    def _write_through_outages(self, batch: list[PredictionRecord]) -> None:
        """Write ``batch``, retrying with capped exponential backoff while the database is
        unavailable, until it succeeds or :meth:`close` gives up.

        Raises:
            Exception: whatever the store raises for another reason than an outage.
        """
        delay = self._first_retry_seconds
        while True:
            try:
                self._store.write_predictions(batch)
            except PredictionLogUnavailableError as error:
                self._note_outage(error, retained=len(batch))
            else:
                self._note_written(len(batch))
                return
            if self._give_up.wait(delay):
                return
            delay = min(2 * delay, self._max_retry_seconds)

    def _note_outage(self, error: PredictionLogUnavailableError, retained: int) -> None:
        with self._lock:
            self._failed_writes += 1
            outage_starts = self._store_available
            self._store_available = False
        if outage_starts:
            logger.warning(
                "Prediction log unavailable; keeping %d records and retrying every %.1f s at "
                "most, dropping new records once %d are queued. %s",
                retained,
                self._max_retry_seconds,
                self._queue.maxsize,
                error,
            )

    def _note_written(self, count: int) -> None:
        with self._lock:
            self._written += count
            self._in_flight -= count
            outage_ends = not self._store_available
            self._store_available = True
        if outage_ends:
            logger.info(
                "Prediction log available again; writing the %d queued records",
                self._queue.qsize(),
            )
