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
(BENCHMARKS.md). Requests arriving meanwhile wait in the socket and form the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sentimentops.serving.model import ServedModel

__all__ = ["MicroBatcher", "ModelNotReadyError"]


class ModelNotReadyError(RuntimeError):
    """No model is loaded yet."""


@dataclass
class _Waiting:
    texts: list[str]
    future: asyncio.Future[tuple[ServedModel, np.ndarray]]


class MicroBatcher:
    """Collects waiting requests into batches of at most ``max_size`` texts."""

    def __init__(
        self,
        current_model: Callable[[], ServedModel | None],
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
        self.batches = 0
        self.texts = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def score(self, texts: list[str]) -> tuple[ServedModel, np.ndarray]:
        """The model that scored ``texts`` and their probabilities of positive, in order."""
        future: asyncio.Future[tuple[ServedModel, np.ndarray]] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.put_nowait(_Waiting(texts, future))
        return await future

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            # Yield to the loop between batches: answers go out, new requests are read and
            # expired timeouts fire before the next batch blocks the loop again.
            await asyncio.sleep(0)
            batch = await self._collect()
            # A caller that timed out or disconnected has cancelled its future: skip its texts.
            batch = [waiting for waiting in batch if not waiting.future.done()]
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
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(error)
                continue
            self.batches += 1
            self.texts += len(texts)
            start = 0
            for waiting in batch:
                end = start + len(waiting.texts)
                if not waiting.future.done():
                    waiting.future.set_result((model, scores[start:end]))
                start = end

    async def _collect(self) -> list[_Waiting]:
        """The first waiting request, plus whatever else is waiting, up to ``max_size`` texts."""
        first, self._carried = self._carried or await self._queue.get(), None
        batch, size = [first], len(first.texts)
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
            if size + len(waiting.texts) > self._max_size:
                self._carried = waiting  # too big to join: it starts the next batch
                break
            batch.append(waiting)
            size += len(waiting.texts)
        return batch
