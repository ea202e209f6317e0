"""The registry lookup started in a process of its own (``tracking.loading.prefetch``)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue


def _prefetch_and_tell(asked: Queue[int]) -> None:
    from sentimentops.tracking import loading

    loading.prefetch("models:/imdb-sentiment@champion")
    asked.put(len(loading._PREFETCHING))


def test_a_daemonic_process_starts_no_lookup_process_and_goes_on() -> None:
    """Dask workers are daemonic: Python forbids them children, so the lookup happens in the
    worker itself, later, instead of failing the batch."""
    context = multiprocessing.get_context("spawn")
    asked: Queue[int] = context.Queue()
    worker = context.Process(target=_prefetch_and_tell, args=(asked,), daemon=True)
    worker.start()
    try:
        lookups_started = asked.get(timeout=120)
    finally:
        worker.join(timeout=30)

    assert lookups_started == 0
    assert worker.exitcode == 0
