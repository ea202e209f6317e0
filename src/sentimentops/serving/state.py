"""What the routes share (model slot, batcher, prediction log, settings, metrics), with the one
path from texts to logged predictions and the one judge of what feedback may name.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from sentimentops.config import Settings
from sentimentops.models.sentiment import labels_of
from sentimentops.prediction_log import (
    Label,
    PredictionLogStore,
    PredictionLogWriter,
    PredictionRecord,
)
from sentimentops.serving import errors
from sentimentops.serving.batcher import MicroBatcher
from sentimentops.serving.metrics import ApiMetrics
from sentimentops.serving.model import ModelSlot
from sentimentops.tracking.loading import LoadedModel

__all__ = ["ApiState", "RecentRequestIds", "ScoredTexts"]

# Past a prediction log flush interval, how long a write may take before another worker's
# prediction is in the log.
LOG_WRITE_MARGIN_SECONDS = 0.25


@dataclass(frozen=True)
class ScoredTexts:
    """Predictions of one request, in the order of its texts, and the model that made them."""

    model: LoadedModel
    labels: list[Label]
    scores: list[float]
    request_ids: list[str]


class RecentRequestIds:
    """The last ``capacity`` request ids queued for the prediction log: with ``capacity`` the
    writer's queue size plus its batch size, every prediction not written yet is among them."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, request_id: str) -> None:
        self._ids[request_id] = None
        self._ids.move_to_end(request_id)  # a client may reuse an X-Request-ID
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._ids


@dataclass
class ApiState:
    """Everything a request may need, kept in ``app.state.api``."""

    settings: Settings
    slot: ModelSlot
    batcher: MicroBatcher
    store: PredictionLogStore
    writer: PredictionLogWriter
    metrics: ApiMetrics
    answered: RecentRequestIds

    def ready_model(self) -> LoadedModel:
        """The served model. Raises ModelNotReadyError before the first one is loaded."""
        if (model := self.slot.current) is None:
            detail = f" (last error: {self.slot.last_error})" if self.slot.last_error else ""
            raise errors.ModelNotReadyError(f"No model loaded yet{detail}.")
        return model

    async def predict(
        self, texts: list[str], *, request_id: str, endpoint: str, itemize: bool
    ) -> ScoredTexts:
        """Score ``texts`` through the micro-batcher; count and log every prediction, under
        ``request_id``, or with ``itemize`` (batch endpoints) ``request_id.0``, ``.1``, ...

        Raises:
            NothingToScoreError: a text has nothing left after cleaning; the whole request is
                refused and nothing is logged.
            ScoringTimeoutError: scoring did not start within the request timeout.
            ModelNotReadyError: no model is loaded.
        """
        self.ready_model()
        started = time.perf_counter()
        timeout = self.settings.serving.request_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            # Not wait_for: it wraps the wait in a task of its own, one more per request.
            async with asyncio.timeout(timeout):
                model, raw_scores = await self.batcher.score(texts, deadline=deadline)
        except TimeoutError:
            message = f"Scoring took over {timeout:g} s; send fewer texts or retry."
            raise errors.ScoringTimeoutError(message) from None
        latency_ms = (time.perf_counter() - started) * 1000
        if (unscorable := np.flatnonzero(np.isnan(raw_scores))).size:
            raise errors.NothingToScoreError(_nothing_to_score(unscorable, itemize))
        scores = [float(score) for score in raw_scores]
        labels = labels_of(scores)
        request_ids = [f"{request_id}.{i}" for i in range(len(texts))] if itemize else [request_id]
        self.metrics.observe_predictions(labels, scores)
        now = datetime.now(UTC)
        store_text = self.settings.prediction_log.store_text
        records = [
            PredictionRecord.of(
                text,
                store_text=store_text,
                timestamp=now,
                request_id=item_id,
                endpoint=endpoint,
                model_name=model.name,
                model_version=model.version,
                label=label,
                score=score,
                latency_ms=latency_ms,
            )
            for text, label, score, item_id in zip(texts, labels, scores, request_ids, strict=True)
        ]
        # One spool commit per request while the log database is away, not one per text.
        if self.writer.submit_many(records):  # dropped records are never logged: no feedback
            for item_id in request_ids:
                self.answered.add(item_id)
        return ScoredTexts(model, labels, scores, request_ids)

    async def require_answered(self, request_id: str) -> None:
        """Return when a prediction was answered under ``request_id``: by this process, or by
        any whose log record is written (looked for again after a flush interval).

        Raises:
            UnknownRequestIdError: no prediction was answered under that id.
            PredictionLogUnavailableError: the log cannot be read now.
        """
        if request_id in self.answered:
            return
        if await asyncio.to_thread(self.store.has_prediction, request_id):
            return
        await asyncio.sleep(self.settings.prediction_log.flush_seconds + LOG_WRITE_MARGIN_SECONDS)
        if await asyncio.to_thread(self.store.has_prediction, request_id):
            return
        raise errors.UnknownRequestIdError(
            f"No prediction was answered under request_id {request_id!r}: name the request_id "
            "of a prediction this API answered (a batch item's is <request_id>.<position>)."
        )


def _nothing_to_score(positions: np.ndarray, itemize: bool) -> str:
    """What to tell a caller whose texts at ``positions`` cleaned down to nothing."""
    if not itemize:
        subject = "The text has"
    elif positions.size == 1:
        subject = f"The text at position {positions[0]} has"
    else:
        shown = ", ".join(str(i) for i in positions[:10]) + (", ..." if positions.size > 10 else "")
        subject = f"The texts at positions {shown} have"
    return (
        f"{subject} nothing left to score after cleaning (only markup, HTML entities or "
        "invisible characters); send the review's words."
    )
