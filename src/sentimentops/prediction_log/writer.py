"""Log predictions off the request path: a bounded queue, one thread, batches, retries through
outages (the queue fills meanwhile, then overflows into ``dropped``)."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time

from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from sentimentops.config import PredictionLogSettings
from sentimentops.errors import PredictionLogUnavailableError
from sentimentops.prediction_log.store import PredictionLogStore, PredictionRecord

__all__ = ["PredictionLogWriter"]

logger = logging.getLogger(__name__)

# After close() times out, how long the write attempt in progress may take to finish.
LAST_ATTEMPT_GRACE_SECONDS = 6.0


class PredictionLogWriter:
    """Writes submitted records to a :class:`PredictionLogStore` in batches, on its own thread;
    :meth:`start` it once and :meth:`close` it (or use it as a context manager).

    Read-only counters: ``written``, ``dropped`` (by :meth:`submit`), ``rejected`` (refused by the
    database), ``failed_writes`` (outage retries included); ``store_available`` is False from an
    outage's first failed write until a write succeeds.
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
        """Prepare the writer: at most ``queue_size`` records wait, ``batch_size`` go in one
        transaction, after at most ``flush_seconds`` for a batch to fill. Through an outage the
        waits between attempts double from ``first_retry_seconds`` up to ``max_retry_seconds``.
        """
        if min(queue_size, batch_size) < 1 or min(flush_seconds, first_retry_seconds) <= 0:
            raise ValueError("queue_size and batch_size must be >= 1, the durations positive")
        self._store = store
        # None in the queue is close()'s wake-up call to a writer waiting for a batch to fill.
        self._queue: queue.Queue[PredictionRecord | None] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._max_retry_seconds = max(max_retry_seconds, first_retry_seconds)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # no more submissions: drain the queue, then stop
        self._give_up = threading.Event()  # close() ran out of time: stop retrying
        self._retrying = Retrying(
            retry=retry_if_exception_type(PredictionLogUnavailableError),
            wait=wait_exponential(multiplier=first_retry_seconds, max=self._max_retry_seconds),
            stop=stop_when_event_set(self._give_up),
            sleep=self._pause,
            retry_error_callback=lambda _state: None,  # close() gave up: the batch stays unwritten
        )
        self._lock = threading.Lock()  # guards the counters
        self._in_flight = 0  # taken from the queue, neither written nor rejected yet
        self.written = self.dropped = self.rejected = self.failed_writes = 0
        self.store_available = True

    @classmethod
    def from_settings(
        cls, store: PredictionLogStore, settings: PredictionLogSettings
    ) -> PredictionLogWriter:
        """A writer sized by the ``prediction_log`` settings."""
        sizes = settings.model_dump(include={"queue_size", "batch_size", "flush_seconds"})
        return cls(store, **sizes)

    def start(self) -> None:
        """Start the writing thread. Raises RuntimeError when it was started before."""
        if self._thread is not None:
            raise RuntimeError("This PredictionLogWriter was already started; start it once.")
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    def submit(self, record: PredictionRecord) -> bool:
        """Queue ``record`` without blocking or raising; False (counted in ``dropped``) when the
        queue is full or the writer closed."""
        if not self._closing.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(record)
                return True
        with self._lock:
            self.dropped += 1
        return False

    def close(self, timeout: float = 10.0) -> int:
        """Stop accepting records, write those queued while ``timeout`` lasts, then stop (the
        attempt in progress may take a few seconds more, PostgreSQL's connect timeout).

        Returns:
            How many submitted records were not written: still queued or retained when the
            time ran out (records the database refused are counted in ``rejected``).
        """
        self._closing.set()
        with contextlib.suppress(queue.Full):  # full: the writer is not waiting for records
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._give_up.set()
                self._thread.join(LAST_ATTEMPT_GRACE_SECONDS)
        queued = []
        with contextlib.suppress(queue.Empty):
            while True:
                queued.append(self._queue.get_nowait())
        with self._lock:
            unwritten = self._in_flight + len(queued) - queued.count(None)
        if unwritten:
            logger.warning("Prediction log writer closed with %d records not written", unwritten)
        return unwritten

    def __enter__(self) -> PredictionLogWriter:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def queue_depth(self) -> int:
        """Records waiting in the queue (not counting the batch being written)."""
        return self._queue.qsize()

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
                    record = self._queue.get_nowait()
                else:
                    record = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if record is not None:
                batch.append(record)
        with self._lock:
            self._in_flight += len(batch)
        return batch

    def _write(self, batch: list[PredictionRecord]) -> None:
        """Write ``batch`` through outages; if the database refuses it, record by record, so a
        bad record costs only itself."""
        try:
            self._retrying(self._attempt, batch)
        except Exception:
            with self._lock:
                self.failed_writes += 1
            if len(batch) > 1:
                for record in batch:
                    self._write([record])
                return
            logger.exception(
                "The prediction log refused the record of request %r; it is not logged",
                batch[0].request_id,
            )
            with self._lock:
                self.rejected += 1
                self._in_flight -= 1

    def _pause(self, seconds: float) -> None:
        self._give_up.wait(seconds)  # close() giving up ends the wait

    def _attempt(self, batch: list[PredictionRecord]) -> None:
        if self._give_up.is_set():  # during the wait before this attempt
            return
        try:
            self._store.write_predictions(batch)
        except PredictionLogUnavailableError as error:
            with self._lock:
                self.failed_writes += 1
                outage_starts, self.store_available = self.store_available, False
            if outage_starts:
                logger.warning(
                    "Prediction log unavailable; keeping %d records and retrying every %.1f s "
                    "at most, dropping new records once %d are queued. %s",
                    *(len(batch), self._max_retry_seconds, self._queue.maxsize, error),
                )
            raise
        with self._lock:
            self.written += len(batch)
            self._in_flight -= len(batch)
            outage_ends, self.store_available = not self.store_available, True
        if outage_ends:
            logger.info(
                "Prediction log available again; writing the %d queued records", self.queue_depth
            )
