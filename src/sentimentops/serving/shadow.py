"""Shadow scoring: the challenger scores answered requests on the loop, in idle time and within
a budget, dropping (and counting) what a busy API cannot drain (docs/decisions.md, "Serving")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from sentimentops.serving.background import BackgroundLoop
from sentimentops.tracking.loading import LoadedModel

__all__ = ["CHUNK_TEXTS", "ShadowJob", "ShadowScorer"]

log = logging.getLogger(__name__)

# Texts per step: a champion request arriving waits for one step (about 1 ms a review).
CHUNK_TEXTS: Final = 2
# How often a busy loop is asked again whether the champion has nothing waiting.
BUSY_POLL_SECONDS: Final = 0.002
# The budget is a token bucket holding at most BURST_SECONDS of work; the champion is busy while
# it scored within the last IDLE_AFTER_SECONDS.
IDLE_AFTER_SECONDS: Final = 0.2
BURST_SECONDS: Final = 0.02


@dataclass(frozen=True)
class ShadowJob:
    """A request the champion answered: its texts, the request id of each, where and when."""

    texts: list[str]
    request_ids: list[str]
    endpoint: str
    timestamp: datetime


OnScored = Callable[[ShadowJob, LoadedModel, np.ndarray, float], None]


class ShadowScorer(BackgroundLoop):
    """Scores queued jobs with ``challenger()`` while ``champion_busy()`` is False, handing the
    scores and milliseconds to ``on_scored``. Counters: ``scored``, ``dropped``, ``failed``."""

    task_name = "shadow-scorer"

    def __init__(
        self,
        challenger: Callable[[], LoadedModel | None],
        champion_busy: Callable[[], bool],
        champion_last_scored: Callable[[], float],
        on_scored: OnScored,
        *,
        capacity: int,
        busy_budget: float,
    ) -> None:
        """``busy_budget``: the share of time shadow work may take while the champion is busy;
        ``champion_last_scored()`` is in ``time.monotonic()`` seconds."""
        self._challenger = challenger
        self._champion_busy = champion_busy
        self._champion_last_scored = champion_last_scored
        self._tokens = BURST_SECONDS if busy_budget > 0 else 0.0
        self._refilled = time.monotonic()
        self._on_scored = on_scored
        self._capacity = capacity
        self._budget = busy_budget
        self._jobs: deque[ShadowJob] = deque()
        self._wake = asyncio.Event()
        self.scored = self.dropped = self.failed = 0

    @property
    def queue_depth(self) -> int:
        """Requests waiting to be scored in shadow."""
        return len(self._jobs)

    def submit(self, job: ShadowJob, *, loggable: bool = True) -> bool:
        """Queue ``job`` without waiting; False (counted in ``dropped``) when the queue is full or
        not ``loggable`` (the log database is away: the spool is kept for real answers)."""
        if not loggable or len(self._jobs) >= self._capacity:
            self.dropped += 1
            return False
        self._jobs.append(job)
        self._wake.set()
        return True

    async def _run(self) -> None:
        while True:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
                continue
            job = self._jobs.popleft()
            try:
                await self._score(job)
            except Exception:  # one bad job must not end shadow scoring
                self.failed += 1
                log.exception("shadow scoring of request %s failed", job.request_ids[0])

    async def _score(self, job: ShadowJob) -> None:
        parts: list[np.ndarray] = []
        seconds = 0.0
        model: LoadedModel | None = None
        for start in range(0, len(job.texts), CHUNK_TEXTS):
            while (wait := self._wait_before_work()) > 0:
                await asyncio.sleep(wait)
            current = self._challenger()
            if current is None or (model is not None and current is not model):
                self.dropped += 1  # the challenger went, or changed: no half-scored job
                return
            model = current
            started = time.perf_counter()
            parts.append(model.score(job.texts[start : start + CHUNK_TEXTS]))
            took = time.perf_counter() - started
            seconds += took
            self._tokens -= took
            await asyncio.sleep(0)  # let waiting champion requests in between chunks
        assert model is not None
        started = time.perf_counter()
        self._on_scored(job, model, np.concatenate(parts), seconds * 1000)
        self._tokens -= time.perf_counter() - started  # logging is shadow work too
        self.scored += 1

    def _wait_before_work(self) -> float:
        """0 when shadow work may run now, else the seconds to wait before asking again."""
        if self._champion_busy():
            return BUSY_POLL_SECONDS
        now = time.monotonic()
        self._tokens = min(BURST_SECONDS, self._tokens + (now - self._refilled) * self._budget)
        self._refilled = now
        if self._tokens > 0 or now - self._champion_last_scored() > IDLE_AFTER_SECONDS:
            return 0.0
        # Out of budget: asleep until it refills, or until the champion may have gone idle.
        refill = -self._tokens / self._budget if self._budget else IDLE_AFTER_SECONDS
        return min(max(refill, BUSY_POLL_SECONDS), IDLE_AFTER_SECONDS)
