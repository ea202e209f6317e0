"""What the routes share: the model slot, the batcher, the prediction log, limits and metrics.

:meth:`ApiState.predict` is the one path from texts to logged predictions, used by every
prediction endpoint (v1 single and batch, v2 infer), so they cannot drift apart, and
:meth:`ApiState.require_answered` the one judge of which request ids feedback may name.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sentimentops.config import Settings
from sentimentops.models.sentiment import labels_of
from sentimentops.prediction_log import (
    Label,
    PredictionLogStore,
    PredictionLogWriter,
    PredictionRecord,
)
from sentimentops.serving.batcher import MicroBatcher, ModelNotReadyError
from sentimentops.serving.errors import ApiError
from sentimentops.serving.metrics import ApiMetrics
from sentimentops.serving.model import ModelSlot
from sentimentops.tracking.loading import LoadedModel

__all__ = ["ApiState", "RecentRequestIds", "ScoredTexts"]

# Past a prediction log flush interval, how long a write may take before another worker's
# prediction is in the log.
LOG_WRITE_MARGIN_SECONDS = 0.25


@dataclass(frozen=True)
class ScoredTexts:
    model: LoadedModel
    labels: list[Label]
    scores: list[float]
    request_ids: list[str]


class RecentRequestIds:
    """The last ``capacity`` request ids this process queued for the prediction log.

    With ``capacity`` at least the writer's queue size plus its batch size, every prediction
    queued but not written yet is here: the writer holds no more than that unwritten.
    """

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
    settings: Settings
    slot: ModelSlot
    batcher: MicroBatcher
    store: PredictionLogStore
    writer: PredictionLogWriter
    metrics: ApiMetrics
    answered: RecentRequestIds

    def ready_model(self) -> LoadedModel:
        model = self.slot.current
        if model is None:
            detail = f" (last error: {self.slot.last_error})" if self.slot.last_error else ""
            raise ApiError(503, f"No model loaded yet{detail}.", type="model_not_ready")
        return model

    async def predict(
        self,
        texts: list[str],
        *,
        request_id: str,
        endpoint: str,
        itemize: bool,
        refusal_status: int = 422,
    ) -> ScoredTexts:
        """Score ``texts`` (through the micro-batcher), count and log every prediction.

        With ``itemize`` (batch endpoints) the texts get ``request_id.0``, ``.1``, ... so
        feedback can name each one, even in a batch of one; otherwise the one text keeps
        ``request_id``.

        Raises:
            ApiError: ``refusal_status`` when a text has nothing left after cleaning (the
                whole request is refused and nothing is logged, as for a blank text); 504
                past the request timeout; 503 with no model loaded.
        """
        self.ready_model()
        started = time.perf_counter()
        timeout = self.settings.serving.request_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            # asyncio.timeout, not wait_for: wait_for wraps the wait in a task of its own, one
            # more task per request for the loop to run.
            async with asyncio.timeout(timeout):
                model, raw_scores = await self.batcher.score(texts, deadline=deadline)
        except TimeoutError:
            raise ApiError(
                504,
                f"Scoring took over {timeout:g} s; send fewer texts or retry.",
            ) from None
        except ModelNotReadyError:
            raise ApiError(503, "No model loaded yet.", type="model_not_ready") from None
        latency_ms = (time.perf_counter() - started) * 1000
        if (unscorable := np.flatnonzero(np.isnan(raw_scores))).size:
            raise ApiError(refusal_status, _nothing_to_score(unscorable, itemize))
        scores = [float(score) for score in raw_scores]
        labels = labels_of(scores)
        request_ids = [f"{request_id}.{i}" for i in range(len(texts))] if itemize else [request_id]
        self.metrics.observe_predictions(labels, scores)
        now = datetime.now(UTC)
        store_text = self.settings.prediction_log.store_text
        for text, label, score, item_id in zip(texts, labels, scores, request_ids, strict=True):
            queued = self.writer.submit(
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
            )
            if queued:  # a dropped record is never logged: no feedback can join it
                self.answered.add(item_id)
        return ScoredTexts(model, labels, scores, request_ids)

    async def require_answered(self, request_id: str) -> None:
        """Return when a prediction was answered under ``request_id``: by this process (its
        record may still wait for the log writer), or by any process whose log record is
        written. A prediction another worker answered a moment ago is looked for once more
        after a flush interval (``prediction_log.flush_seconds``), by when its writer has
        normally written it.

        Raises:
            ApiError: 422 ``unknown_request_id``: no prediction answered under that id.
            PredictionLogUnavailableError: the log cannot be read now.
        """
        if request_id in self.answered:
            return
        if await asyncio.to_thread(self.store.has_prediction, request_id):
            return
        await asyncio.sleep(self.settings.prediction_log.flush_seconds + LOG_WRITE_MARGIN_SECONDS)
        if await asyncio.to_thread(self.store.has_prediction, request_id):
            return
        raise ApiError(
            422,
            f"No prediction was answered under request_id {request_id!r}: name the request_id "
            "of a prediction this API answered (a batch item's is <request_id>.<position>).",
            type="unknown_request_id",
        )

    def check_api_key(self, presented: str | None) -> None:
        expected = self.settings.api_key
        if expected is None:
            return
        # Constant-time comparison: response timing must not reveal how much of a key matched.
        if presented is None or not hmac.compare_digest(
            presented.encode(), expected.get_secret_value().encode()
        ):
            raise ApiError(
                401,
                "Missing or wrong API key: send it in the X-API-Key header.",
                headers={"WWW-Authenticate": "ApiKey"},
            )

    def describe_model(self) -> dict[str, Any]:
        model = self.ready_model()
        return {
            "name": model.name,
            "version": model.version,
            "uri": model.uri,
            "alias": model.alias,
            "run_id": model.run_id,
            "metrics": model.metrics,
            "data_digest": model.data_digest,
            "loaded_at": model.loaded_at,
        }


def _nothing_to_score(positions: np.ndarray, itemize: bool) -> str:
    """What to tell a caller whose text cleaned down to nothing (batch prediction rejects such
    a row as "text empty after cleaning")."""
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
