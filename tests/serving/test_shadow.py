"""The shadow scorer on a real event loop and a real model: it waits while the champion is busy,
and a full queue drops (counted) instead of making anyone wait."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sentimentops.serving.shadow import ShadowJob, ShadowScorer
from sentimentops.tracking.loading import LoadedModel, load_version

REVIEWS = ["A wonderful, moving film.", "Dull and badly acted.", "I loved it.", "Avoid."]


def test_shadow_waits_for_an_idle_champion_and_drops_past_its_capacity(
    model_folder: Path,
) -> None:
    model = load_version(str(model_folder))
    scored: list[tuple[ShadowJob, np.ndarray]] = []
    champion = {"busy": True}

    def on_scored(job: ShadowJob, by: LoadedModel, scores: np.ndarray, _ms: float) -> None:
        assert by is model
        scored.append((job, scores))

    async def scenario() -> tuple[list[bool], int, int, int]:
        scorer = ShadowScorer(
            lambda: model,
            lambda: champion["busy"],
            time.monotonic,
            on_scored,
            capacity=2,
            busy_budget=0.04,
        )
        scorer.start()
        now = datetime.now(UTC)
        jobs = [ShadowJob(REVIEWS[i : i + 3], [f"r{i}.0"], "/v1/predict", now) for i in range(3)]
        accepted = [scorer.submit(job) for job in jobs]
        await asyncio.sleep(0.1)
        while_busy = len(scored)
        champion["busy"] = False
        for _ in range(200):
            if len(scored) == 2:
                break
            await asyncio.sleep(0.01)
        await scorer.stop()
        return accepted, while_busy, scorer.scored, scorer.dropped

    accepted, while_busy, count, dropped = asyncio.run(scenario())

    assert accepted == [True, True, False]
    assert while_busy == 0  # nothing scored while champion requests waited
    assert (count, dropped) == (2, 1)
    # Each job whole, in order, scored in chunks as the model scores it at once.
    assert [job.request_ids for job, _ in scored] == [["r0.0"], ["r1.0"]]
    for job, scores in scored:
        np.testing.assert_allclose(scores, model.score(job.texts))


def test_while_the_log_database_is_away_shadow_jobs_are_dropped_and_counted(
    model_folder: Path,
) -> None:
    """The spool keeps the answers clients received: shadow rows would fill it twice as fast."""
    model = load_version(str(model_folder))

    async def scenario() -> tuple[list[bool], int]:
        scorer = ShadowScorer(
            lambda: model, lambda: False, time.monotonic, lambda *_: None, capacity=10,
            busy_budget=0.04,
        )  # fmt: skip
        job = ShadowJob(REVIEWS[:1], ["r0.0"], "/v1/predict", datetime.now(UTC))
        accepted = [scorer.submit(job, loggable=False), scorer.submit(job, loggable=True)]
        return accepted, scorer.dropped

    accepted, dropped = asyncio.run(scenario())

    assert accepted == [False, True]
    assert dropped == 1
