"""Score concurrent requests together: one model call for everything waiting.

A scikit-learn pipeline spends a large share of a one-text call on per-call overhead (input
checks, sparse matrix set-up), so under load, scoring the texts of every waiting request in one
call serves more requests per second at a lower tail latency. With nothing else waiting, a
request is scored at once: batching costs no latency at low load (``max_wait_seconds`` = 0,
the default, never waits for company).

The model is taken from the slot when a batch starts, so every text in a batch is scored by one
model, and each caller learns which one.

The batch is scored on the event loop itself. A scoring thread would only take turns with the
loop for the GIL (the TF-IDF analyzer is Python), and the hand-offs cost more than they save:
scoring on the loop served 13% more requests at concurrency 16, with a lower p99
(BENCHMARKS.md). Requests arriving meanwhile wait in the socket and form the next batch. The
price: nothing else runs during a batch, so batches are capped in characters, and a request
whose deadline passes while it waits is dropped before scoring (its own timer could not fire).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sentimentops.tracking.loading import LoadedModel

__all__ = ["MicroBatcher", "ModelNotReadyError"]


class ModelNotReadyError(RuntimeError):
    """No model is loaded yet."""


# A batch stops growing at this many characters (about 200 average reviews, some 0.3 s of
# scoring): the loop is blocked while a batch is scored, and health probes wait behind it.
MAX_BATCH_CHARS = 250_000


@dataclass
class _Waiting:
    texts: list[str]
    future: asyncio.Future[tuple[LoadedModel, np.ndarray]]
    deadline: float | None  # loop time after which nobody waits for the answer
    chars: int


class MicroBatcher:
    """Collects waiting requests into batches of at most ``max_size`` texts."""

    def __init__(
        self,
        current_model: Callable[[], LoadedModel | None],
        *,
        max_size: int = 64,
        max_wait_seconds: float = 0.0,
    ) -> None:
        self._current_model = current_model
        self._max_size = max_size
        self._max_wait = max_wait_seconds
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._carried: _Waiting | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def score(
        self, texts: list[str], *, deadline: float | None = None
    ) -> tuple[LoadedModel, np.ndarray]:
        """The model that scored ``texts`` and their probabilities of positive, in order.

        Raises:
            TimeoutError: the batch for ``texts`` could not start before ``deadline`` (loop
                time); a batch that has started is always finished.
        """
        future: asyncio.Future[tuple[LoadedModel, np.ndarray]] = (
            asyncio.get_running_loop().create_future()
        )
        chars = sum(len(text) for text in texts)
        self._queue.put_nowait(_Waiting(texts, future, deadline, chars))
        return await future

    async def _run(self) -> None:
        while True:
            # Yield to the loop between batches: answers go out, new requests are read and
            # expired timeouts fire before the next batch blocks the loop again.
            await asyncio.sleep(0)
            batch = self._still_awaited(await self._collect())
            if not batch:
                continue
            model = self._current_model()
            if model is None:
                for waiting in batch:
                    waiting.future.set_exception(ModelNotReadyError("no model is loaded yet"))
                continue
            texts = [text for waiting in batch for text in waiting.texts]
            try:
                scores = model.score(texts)
            except Exception as error:
                # No await since _still_awaited: every future in the batch is still pending.
                for waiting in batch:
                    waiting.future.set_exception(error)
                continue
            start = 0
            for waiting in batch:
                end = start + len(waiting.texts)
                waiting.future.set_result((model, scores[start:end]))
                start = end

    @staticmethod
    def _still_awaited(batch: list[_Waiting]) -> list[_Waiting]:
        """Drop the requests nobody waits for any more: cancelled (the caller gave up or
        disconnected) or past their deadline. The deadline is checked here because a caller's
        own timeout cannot fire while the previous batch held the loop."""
        now = asyncio.get_running_loop().time()
        kept = []
        for waiting in batch:
            if waiting.future.done():
                continue
            if waiting.deadline is not None and now > waiting.deadline:
                waiting.future.set_exception(TimeoutError("deadline passed before scoring"))
                continue
            kept.append(waiting)
        return kept

    async def _collect(self) -> list[_Waiting]:
        """The first waiting request, plus whatever else is waiting, up to ``max_size`` texts
        and :data:`MAX_BATCH_CHARS` characters (a single larger request is scored alone)."""
        first, self._carried = self._carried or await self._queue.get(), None
        batch, size, chars = [first], len(first.texts), first.chars
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while size < self._max_size:
            try:
                if self._max_wait > 0:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    waiting = await asyncio.wait_for(self._queue.get(), remaining)
                else:
                    waiting = self._queue.get_nowait()
            except (TimeoutError, asyncio.QueueEmpty):
                break
            too_big = chars + waiting.chars > MAX_BATCH_CHARS
            if size + len(waiting.texts) > self._max_size or too_big:
                self._carried = waiting  # too big to join: it starts the next batch
                break
            batch.append(waiting)
            size += len(waiting.texts)
            chars += waiting.chars
        return batch
