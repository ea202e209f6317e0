"""What the routes share, with the one path from texts to logged predictions (champion, canary
or shadow) and the one judge of what feedback may name."""

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
from sentimentops.serving.rollout import Role, in_canary, in_shadow, text_key
from sentimentops.serving.shadow import ShadowJob, ShadowScorer
from sentimentops.tracking.loading import LoadedModel

__all__ = ["ApiState", "Challenger", "RecentRequestIds", "ScoredTexts"]

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
    role: Role = "champion"


class RecentRequestIds:
    """The last ``capacity`` request ids queued for the prediction log (sized to hold every
    prediction not written yet)."""

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


@dataclass(frozen=True)
class Challenger:
    """The challenger's slot, its batcher (canary answers) and its shadow scorer."""

    slot: ModelSlot
    batcher: MicroBatcher
    shadow: ShadowScorer


@dataclass
class ApiState:
    """Everything a request may need, kept in ``app.state.api``; ``challenger`` is None unless
    a shadow or canary share is set."""

    settings: Settings
    slot: ModelSlot
    batcher: MicroBatcher
    store: PredictionLogStore
    writer: PredictionLogWriter
    metrics: ApiMetrics
    answered: RecentRequestIds
    challenger: Challenger | None = None

    def challenger_model(self) -> LoadedModel | None:
        """The challenger, while one is loaded that is not the champion itself."""
        if self.challenger is None:
            return None
        challenger, champion = self.challenger.slot.current, self.slot.current
        if challenger is None or champion is None or challenger.location == champion.location:
            return None
        return challenger

    def ready_model(self) -> LoadedModel:
        """The served model. Raises ModelNotReadyError before the first one is loaded."""
        if (model := self.slot.current) is None:
            detail = f" (last error: {self.slot.last_error})" if self.slot.last_error else ""
            raise errors.ModelNotReadyError(f"No model loaded yet{detail}.")
        return model

    async def predict(
        self,
        texts: list[str],
        *,
        request_id: str,
        endpoint: str,
        itemize: bool,
        caller: str | None = None,
    ) -> ScoredTexts:
        """Score ``texts`` (by the challenger for a canary ``caller``, also in shadow for a share of
        requests); count and log each under ``request_id`` (``.0``, ``.1``... with ``itemize``).

        Raises:
            NothingToScoreError: a text has nothing left after cleaning; nothing is logged.
            ScoringTimeoutError: scoring did not start within the request timeout.
            ModelNotReadyError: no model is loaded.
        """
        self.ready_model()
        serving = self.settings.serving
        # The challenger, while a model of its own is in play.
        challenger = self.challenger if self.challenger_model() is not None else None
        role: Role = "champion"
        batcher = self.batcher
        if challenger and in_canary(caller or text_key(texts), serving.canary_share):
            role, batcher = "canary", challenger.batcher
        started = time.perf_counter()
        model, raw_scores = await self._score(batcher, texts)
        if role == "canary" and model is None:  # the challenger went meanwhile
            role = "champion"
            model, raw_scores = await self._score(self.batcher, texts)
        assert model is not None
        seconds = time.perf_counter() - started
        if (unscorable := np.flatnonzero(np.isnan(raw_scores))).size:
            raise errors.NothingToScoreError(_nothing_to_score(unscorable, itemize))
        scores = [float(score) for score in raw_scores]
        labels = labels_of(scores)
        request_ids = [f"{request_id}.{i}" for i in range(len(texts))] if itemize else [request_id]
        self.metrics.observe_predictions(labels, scores, role=role, seconds=seconds)
        now = datetime.now(UTC)
        records = self._records(
            model, texts, request_ids, endpoint, labels, scores, now, seconds * 1000, role
        )
        # One spool commit per request while the log database is away, not one per text.
        if self.writer.submit_many(records):  # dropped records are never logged: no feedback
            for item_id in request_ids:
                self.answered.add(item_id)
        if role == "champion" and challenger and in_shadow(request_id, serving.shadow_share):
            # Scored once this answer is written: the scorer waits for an idle loop.
            challenger.shadow.submit(
                ShadowJob(texts, request_ids, endpoint, now),
                loggable=self.writer.store_available,
            )
        return ScoredTexts(model, labels, scores, request_ids, role)

    async def _score(
        self, batcher: MicroBatcher, texts: list[str]
    ) -> tuple[LoadedModel | None, np.ndarray]:
        """``batcher``'s model and scores of ``texts``; (None, empty) when the challenger's has no
        model any more. Raises ScoringTimeoutError, or ModelNotReadyError for the champion's."""
        timeout = self.settings.serving.request_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            # Not wait_for: it wraps the wait in a task of its own, one more per request.
            async with asyncio.timeout(timeout):
                return await batcher.score(texts, deadline=deadline)
        except TimeoutError:
            message = f"Scoring took over {timeout:g} s; send fewer texts or retry."
            raise errors.ScoringTimeoutError(message) from None
        except errors.ModelNotReadyError:
            if batcher is self.batcher:
                raise
            return None, np.empty(0)

    def log_shadow(
        self, job: ShadowJob, model: LoadedModel, raw_scores: np.ndarray, latency_ms: float
    ) -> None:
        """Count and log the challenger's shadow predictions of ``job`` (never answered)."""
        scored = ~np.isnan(raw_scores)
        scores = [float(score) for score in raw_scores[scored]]
        labels = labels_of(scores)
        texts = [text for text, keep in zip(job.texts, scored, strict=True) if keep]
        ids = [item for item, keep in zip(job.request_ids, scored, strict=True) if keep]
        self.metrics.observe_predictions(labels, scores, role="shadow", seconds=latency_ms / 1000)
        # The champion's timestamp: both rows of a request fall in the same window.
        self.writer.submit_many(
            self._records(
                model, texts, ids, job.endpoint, labels, scores, job.timestamp, latency_ms, "shadow"
            )
        )

    def _records(
        self,
        model: LoadedModel,
        texts: list[str],
        request_ids: list[str],
        endpoint: str,
        labels: list[Label],
        scores: list[float],
        timestamp: datetime,
        latency_ms: float,
        role: Role,
    ) -> list[PredictionRecord]:
        store_text = self.settings.prediction_log.store_text
        return [
            PredictionRecord.of(
                text,
                store_text=store_text,
                timestamp=timestamp,
                request_id=item_id,
                endpoint=endpoint,
                model_name=model.name,
                model_version=model.version,
                label=label,
                score=score,
                latency_ms=latency_ms,
                role=role,
            )
            for text, label, score, item_id in zip(texts, labels, scores, request_ids, strict=True)
        ]

    async def require_answered(self, request_id: str) -> None:
        """Return when a prediction was answered under ``request_id`` here or in the log (looked
        up again after a flush interval).

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
    if not itemize:
        subject = "The text has"
    elif positions.size == 1:
        subject = f"The text at position {positions[0]} has"
    else:
        shown = ", ".join(str(i) for i in positions[:10]) + (", ..." if positions.size > 10 else "")
        subject = f"The texts at positions {shown} have"
    return (
        f"{subject} nothing left to score after cleaning (only markup, HTML entities, emoji "
        "and other symbols, or invisible characters); send the review's words."
    )
