"""The micro-batcher: concurrent requests share model calls, in order, one model per batch."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from sentimentops.serving.batcher import MicroBatcher, ModelNotReadyError
from sentimentops.tracking.loading import LoadedModel


class LengthModel:
    """Scores a text by its length; records the size of every call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[int] = []
        self.seen: list[str] = []
        self.delay = delay
        self.lock = threading.Lock()

    def positive_scores_or_nan(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(len(texts))
            self.seen.extend(texts)
        time.sleep(self.delay)
        return np.asarray([len(text) / 100 for text in texts])


def served(pipeline: object, version: str = "1") -> LoadedModel:
    return LoadedModel(pipeline=pipeline, name="m", version=version, location="memory")


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_concurrent_requests_are_scored_together_and_in_order() -> None:
    model = LengthModel(delay=0.05)

    async def scenario() -> list[tuple[LoadedModel, np.ndarray]]:
        batcher = MicroBatcher(lambda: served(model), max_size=64)
        batcher.start()
        try:
            requests = [batcher.score(["x" * n, "y" * (n + 1)]) for n in range(1, 21)]
            return await asyncio.gather(*requests)
        finally:
            await batcher.stop()

    results = run(scenario())

    for n, (_, scores) in enumerate(results, start=1):  # type: ignore[arg-type]
        np.testing.assert_allclose(scores, [n / 100, (n + 1) / 100])
    # 20 requests, far fewer model calls: whatever waits when the model is free goes together.
    assert sum(model.calls) == 40
    assert len(model.calls) < 20
    assert max(model.calls) <= 64


def test_batches_respect_the_size_limit_and_big_requests_go_alone() -> None:
    model = LengthModel(delay=0.02)

    async def scenario() -> None:
        batcher = MicroBatcher(lambda: served(model), max_size=4)
        batcher.start()
        try:
            await asyncio.gather(
                batcher.score(["a"]),
                *(batcher.score(["b", "c"]) for _ in range(3)),
                batcher.score(["d"] * 9),
            )
        finally:
            await batcher.stop()

    run(scenario())
    assert sum(model.calls) == 1 + 6 + 9
    assert 9 in model.calls  # over the limit: scored on its own, not split or refused
    assert all(size <= 4 for size in model.calls if size != 9)


def test_an_abandoned_request_does_not_stop_the_others() -> None:
    model = LengthModel(delay=0.05)

    async def scenario() -> tuple[np.ndarray, bool]:
        batcher = MicroBatcher(lambda: served(model), max_size=1)
        batcher.start()
        try:
            first = asyncio.ensure_future(batcher.score(["occupies the model"]))
            impatient = asyncio.ensure_future(asyncio.wait_for(batcher.score(["gives up"]), 0.01))
            last = asyncio.ensure_future(batcher.score(["still served"]))
            await first
            timed_out = False
            try:
                await impatient
            except TimeoutError:
                timed_out = True
            _, scores = await last
            return scores, timed_out
        finally:
            await batcher.stop()

    scores, timed_out = run(scenario())  # type: ignore[misc]
    assert timed_out
    np.testing.assert_allclose(scores, [len("still served") / 100])


def test_no_model_means_not_ready_and_a_failing_model_fails_only_its_batch() -> None:
    class Failing:
        def positive_scores_or_nan(self, texts: list[str]) -> np.ndarray:
            raise ValueError("broken model")

    current: list[LoadedModel | None] = [None]

    async def scenario() -> None:
        batcher = MicroBatcher(lambda: current[0])
        batcher.start()
        try:
            with pytest.raises(ModelNotReadyError):
                await batcher.score(["text"])
            current[0] = served(Failing())
            with pytest.raises(ValueError, match="broken model"):
                await batcher.score(["text"])
            current[0] = served(LengthModel(), version="2")
            model, scores = await batcher.score(["abcd"])
            assert model.version == "2"
            np.testing.assert_allclose(scores, [0.04])
        finally:
            await batcher.stop()

    run(scenario())


def test_a_request_past_its_deadline_is_not_scored() -> None:
    model = LengthModel(delay=0.05)

    async def scenario() -> None:
        batcher = MicroBatcher(lambda: served(model), max_size=1)
        batcher.start()
        try:
            loop = asyncio.get_running_loop()
            first = asyncio.ensure_future(batcher.score(["blocks the loop for 50 ms"]))
            # Queued behind the first batch with a deadline that passes while it is scored.
            late = asyncio.ensure_future(batcher.score(["too late"], deadline=loop.time() + 0.01))
            await first
            with pytest.raises(TimeoutError):
                await late
        finally:
            await batcher.stop()

    run(scenario())
    assert "too late" not in model.seen


def test_batches_are_capped_in_characters() -> None:
    from sentimentops.serving.batcher import MAX_BATCH_CHARS

    model = LengthModel(delay=0.01)
    long_text = "x" * (MAX_BATCH_CHARS // 2 + 1)

    async def scenario() -> None:
        batcher = MicroBatcher(lambda: served(model), max_size=64)
        batcher.start()
        try:
            await asyncio.gather(*(batcher.score([long_text]) for _ in range(3)))
        finally:
            await batcher.stop()

    run(scenario())
    assert model.calls == [1, 1, 1]  # two would exceed the cap: each goes alone
