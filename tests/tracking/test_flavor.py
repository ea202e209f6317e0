"""Loading a saved pipeline: without the cyclic collector walking the objects being loaded,
and with the collector as it was afterwards, whatever other threads load meanwhile."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentimentops.tracking.flavor import load_pipeline


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every garbage collection that runs meanwhile."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def test_no_collection_runs_while_a_model_loads(model_folder: Path, collections: list[int]) -> None:
    assert gc.isenabled()
    pipeline = load_pipeline(str(model_folder))

    assert collections == []
    assert gc.isenabled()
    assert pipeline.positive_scores(["A fine film."]).shape == (1,)


def test_a_collector_switched_off_before_stays_off(model_folder: Path) -> None:
    gc.disable()
    try:
        load_pipeline(str(model_folder))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_last_of_concurrent_loads_switches_the_collector_back_on(model_folder: Path) -> None:
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def load() -> None:
        start.wait()
        try:
            load_pipeline(str(model_folder))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert gc.isenabled()
