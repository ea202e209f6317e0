"""A known prediction log of a champion (version 1) and a challenger (version 2), written
through the store as the API writes it, with the numbers a person computes from it by hand.

Requests r0..r9: answered by version 1 (role champion), scored in shadow by version 2; r10:
version 1 alone; c0, c1: answered by version 2 (role canary). Feedback on r0..r7, r10, c0, c1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sentimentops.prediction_log import PredictionLogStore, PredictionRecord

__all__ = ["START", "write_known_log", "write_paired_log"]

START = datetime.now(UTC) - timedelta(minutes=30)

TRUTH = {f"r{i}": "positive" if i % 2 == 0 else "negative" for i in range(8)} | {
    "r10": "positive",
    "c0": "negative",
    "c1": "positive",
}


def _other(label: str) -> str:
    return "negative" if label == "positive" else "positive"


def write_known_log(store: PredictionLogStore) -> None:
    """The rows and the feedback of the module docstring: version 1 right on r0..r4 and r10,
    wrong on r5..r7; version 2 right on r0..r3, r5..r7 and c0, wrong on r4 and c1; on r8 the two
    disagree, on r9 they agree."""
    records = []
    v1_scores = [0.1] * 5 + [0.9] * 5  # paired score samples: the K-S statistic is 0.5 - 0.2
    v2_scores = [0.1] * 2 + [0.9] * 8
    for i in range(10):
        request = f"r{i}"
        truth = TRUTH.get(request, "positive")
        v1 = truth if i <= 4 or i == 9 else _other(truth)
        v2 = _other(truth) if i == 4 else truth
        if i == 8:
            v1, v2 = "positive", "negative"
        moment = START + timedelta(seconds=i)
        records.append(_record(request, "1", "champion", v1, v1_scores[i], 10.0 * (i + 1), moment))
        records.append(_record(request, "2", "shadow", v2, v2_scores[i], 5.0, moment))
    records.append(_record("r10", "1", "champion", "positive", 0.8, 110.0, START))
    records.append(_record("c0", "2", "canary", "negative", 0.2, 7.0, START))
    records.append(_record("c1", "2", "canary", "negative", 0.3, 7.0, START))
    store.write_predictions(records)
    for request, label in TRUTH.items():
        store.write_feedback(request, label)  # type: ignore[arg-type]


def _record(
    request: str, version: str, role: str, label: str, score: float, ms: float, at: datetime
) -> PredictionRecord:
    return PredictionRecord.of(
        f"review {request}",
        store_text=True,
        request_id=request,
        endpoint="/v1/predict",
        model_name="imdb-sentiment",
        model_version=version,
        label=label,  # type: ignore[arg-type]
        score=score,
        latency_ms=ms,
        timestamp=at,
        role=role,
    )


def write_paired_log(
    store: PredictionLogStore,
    *,
    champion: str,
    challenger: str,
    requests: int,
    champion_right: int,
    challenger_right: int,
) -> None:
    """``requests`` answered by ``champion`` and scored in shadow by ``challenger``, all with
    feedback "positive": the champion right on the first ``champion_right``, the challenger on
    the last ``challenger_right``."""
    records = []
    for i in range(requests):
        moment = START + timedelta(milliseconds=i)
        for version, role, right in (
            (champion, "champion", i < champion_right),
            (challenger, "shadow", i >= requests - challenger_right),
        ):
            label = "positive" if right else "negative"
            score = 0.9 if right else 0.1
            records.append(_record(f"p{i}", version, role, label, score, 5.0, moment))
    store.write_predictions(records)
    for i in range(requests):
        store.write_feedback(f"p{i}", "positive")
