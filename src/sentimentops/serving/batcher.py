"""Score concurrent requests together: one model call for every text waiting, on the event loop.

At low load a request is scored at once; why on the loop, and the character cap, are in
docs/decisions.md (Serving).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

import numpy as np

from sentimentops.serving.errors import ModelNotReadyError
from sentimentops.tracking.loading import LoadedModel

__all__ = ["MAX_BATCH_CHARS", "MicroBatcher", "ModelNotReadyError"]

# A batch stops growing at this many characters (some 0.3 s of scoring): the loop, and so the
# health probes, wait while a batch is scored.
MAX_BATCH_CHARS = 250_000


@dataclass
class _Waiting:
    texts: list[str]
    future: asyncio.Future[tuple[LoadedModel, np.ndarray]]
    deadline: float | None  # loop time after which nobody waits for the answer
    chars: int


@dataclass
class MicroBatcher:
    """Collects waiting requests into batches of at most ``max_size`` texts, each scored by the
    model ``current_model`` gives when the batch starts."""

    current_model: Callable[[], LoadedModel | None]
    _: KW_ONLY
    max_size: int = 64
    max_wait_seconds: float = 0.0
    _queue: asyncio.Queue[_Waiting] = field(default_factory=asyncio.Queue, init=False)
    _carried: _Waiting | None = field(default=None, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    last_scored: float = field(default=float("-inf"), init=False)  # time.monotonic()

    def start(self) -> None:
        """Start batching on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stop batching; requests still waiting are not scored."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def waiting(self) -> bool:
        """Requests wait to be scored (the one being scored, if any, holds the loop)."""
        return self._carried is not None or not self._queue.empty()

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
            model = self.current_model()
            if model is None:
                for waiting in batch:
                    waiting.future.set_exception(ModelNotReadyError("No model loaded yet."))
                continue
            texts = [text for waiting in batch for text in waiting.texts]
            self.last_scored = time.monotonic()
            try:
                scores = model.score(texts)
            except Exception as error:
                # No await since _still_awaited: every future in the batch is still pending.
                for waiting in batch:
                    waiting.future.set_exception(error)
                continue
            ends = np.cumsum([len(waiting.texts) for waiting in batch])[:-1]
            for waiting, part in zip(batch, np.split(scores, ends), strict=True):
                waiting.future.set_result((model, part))

    @staticmethod
    def _still_awaited(batch: list[_Waiting]) -> list[_Waiting]:
        """Drop the requests nobody waits for any more: cancelled (the caller gave up or
        disconnected) or past their deadline. The deadline is checked here because a caller's
        own timeout cannot fire while the previous batch held the loop."""
        now = asyncio.get_running_loop().time()
        for waiting in batch:
            late = waiting.deadline is not None and now > waiting.deadline
            if late and not waiting.future.done():
                waiting.future.set_exception(TimeoutError("deadline passed before scoring"))
        return [waiting for waiting in batch if not waiting.future.done()]

    async def _collect(self) -> list[_Waiting]:
        """The first waiting request, plus whatever else is waiting, up to ``max_size`` texts
        and :data:`MAX_BATCH_CHARS` characters (a single larger request is scored alone)."""
        first, self._carried = self._carried or await self._queue.get(), None
        batch, size, chars = [first], len(first.texts), first.chars
        deadline = asyncio.get_running_loop().time() + self.max_wait_seconds
        while size < self.max_size:
            try:
                if self.max_wait_seconds > 0:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    waiting = await asyncio.wait_for(self._queue.get(), remaining)
                else:
                    waiting = self._queue.get_nowait()
            except (TimeoutError, asyncio.QueueEmpty):
                break
            too_big = chars + waiting.chars > MAX_BATCH_CHARS
            if size + len(waiting.texts) > self.max_size or too_big:
                self._carried = waiting  # too big to join: it starts the next batch
                break
            batch.append(waiting)
            size += len(waiting.texts)
            chars += waiting.chars
        return batch
