"""Prediction records for tests: distinct, valid, with chosen timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sentimentops.prediction_log import PredictionRecord

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sample_record(
    index: int,
    *,
    timestamp: datetime | None = None,
    text: str | None = None,
    store_text: bool = True,
) -> PredictionRecord:
    """The ``index``-th record: one second after the previous one unless ``timestamp`` is given."""
    positive = index % 2 == 0
    return PredictionRecord.of(
        text if text is not None else f"Review {index}: " + ("loved it" if positive else "boring"),
        store_text=store_text,
        request_id=f"request-{index}",
        endpoint="/v1/predict",
        model_name="imdb-sentiment",
        model_version="3",
        label="positive" if positive else "negative",
        score=0.9 if positive else 0.2,
        latency_ms=1.5 + index,
        timestamp=timestamp or START + timedelta(seconds=index),
    )


def sample_records(count: int, first: int = 0) -> list[PredictionRecord]:
    return [sample_record(index) for index in range(first, first + count)]
