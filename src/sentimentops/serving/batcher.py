"""Score concurrent requests together: one model call for every text waiting, on the event loop
(why: docs/decisions.md, "Serving")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import ClassVar

import numpy as np

from sentimentops.serving.background import BackgroundLoop
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
class MicroBatcher(BackgroundLoop):
    """Collects waiting requests into batches of at most ``max_size`` texts, each scored by the
    model ``current_model`` gives when the batch starts."""

    current_model: Callable[[], LoadedModel | None]
    _: KW_ONLY
    max_size: int = 64
    max_wait_seconds: float = 0.0
    _queue: asyncio.Queue[_Waiting] = field(default_factory=asyncio.Queue, init=False)
    _carried: _Waiting | None = field(default=None, init=False)
    last_scored: float = field(default=float("-inf"), init=False)  # time.monotonic()
    task_name: ClassVar[str] = "micro-batcher"

    @property
    def waiting(self) -> bool:
        """Requests wait to be scored (the one being scored, if any, holds the loop)."""
        return self._carried is not None or not self._queue.empty()

    async def score(
        self, texts: list[str], *, deadline: float | None = None
    ) -> tuple[LoadedModel, np.ndarray]:
        """The model that scored ``texts`` and their probabilities of positive, in order.
        TimeoutError when their batch could not start before ``deadline`` (loop time)."""
        future: asyncio.Future[tuple[LoadedModel, np.ndarray]] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.put_nowait(_Waiting(texts, future, deadline, sum(map(len, texts))))
        return await future

    async def _run(self) -> None:
        while True:
            # Yield between batches: answers go out and expired timeouts fire.
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
        """Drop requests cancelled or past their deadline (checked here: a caller's own timeout
        cannot fire while the previous batch held the loop)."""
        now = asyncio.get_running_loop().time()
        for waiting in batch:
            late = waiting.deadline is not None and now > waiting.deadline
            if late and not waiting.future.done():
                waiting.future.set_exception(TimeoutError("deadline passed before scoring"))
        return [waiting for waiting in batch if not waiting.future.done()]

    async def _collect(self) -> list[_Waiting]:
        """The first waiting request plus others, up to ``max_size`` texts and
        :data:`MAX_BATCH_CHARS` characters."""
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
