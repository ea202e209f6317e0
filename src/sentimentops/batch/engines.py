"""Where chunks are scored: in this process (``local``) or on a Dask cluster (``dask``).

``submit`` returns a handle whose ``result()`` gives the scores, so several chunks can be in
flight on a cluster and still be written in input order. Each Dask worker loads the model once
and is sent only its location and texts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sentimentops.batch.options import BatchOptions
from sentimentops.batch.rules import Screened
from sentimentops.tracking.loading import LoadedModel, load_version

__all__ = [
    "DaskEngine",
    "Engine",
    "LocalEngine",
    "ScoreHandle",
    "open_engine",
    "score_on_worker",
    "scored",
]


class ScoreHandle(Protocol):
    def result(self) -> Any: ...


class Engine(Protocol):
    in_flight: int

    def submit(self, texts: list[str]) -> ScoreHandle: ...

    def close(self) -> None: ...


@dataclass
class _Done:
    value: Any

    def result(self) -> Any:
        return self.value


@dataclass
class _Joined:
    """The pieces of one chunk scored on several workers, joined back in order."""

    pieces: list[Any]

    def result(self) -> Any:
        return np.concatenate([np.asarray(piece.result()) for piece in self.pieces])


class LocalEngine:
    """Scores each chunk at once in this process."""

    in_flight = 1

    def __init__(self, score: Callable[[list[str]], Any]) -> None:
        self._score = score

    def submit(self, texts: list[str]) -> ScoreHandle:
        return _Done(self._score(texts) if texts else [])

    def close(self) -> None:
        return None


# Per worker process: model location -> scoring function, loaded on first use.
_WORKER_MODELS: dict[str, Callable[[list[str]], Any]] = {}


def score_on_worker(model_location: str, texts: list[str]) -> np.ndarray:
    """Runs on a Dask worker: load the model once per process, then score."""
    if model_location not in _WORKER_MODELS:
        _WORKER_MODELS[model_location] = load_version(model_location).score
    return np.asarray(_WORKER_MODELS[model_location](texts))


class DaskEngine:
    """Scores chunks on a Dask cluster: a LocalCluster of ``workers`` processes by default,
    or the existing scheduler at ``scheduler`` (``tcp://host:8786``)."""

    def __init__(
        self, model_location: str, *, workers: int = 2, scheduler: str | None = None
    ) -> None:
        from distributed import Client, LocalCluster

        self.model_location = model_location
        self._closed = False
        if scheduler is None:
            # The scheduler's HTTP server (dashboard, /metrics) on a free loopback port: None
            # would still take 8787 and warn when another cluster has it.
            self._cluster: Any = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, dashboard_address="127.0.0.1:0"
            )
            self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            self._client.wait_for_workers(workers, timeout=120)
        else:
            self._cluster = None
            self._client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
        # Load the model on every worker now, not inside the first chunk's timing: a large
        # vocabulary takes seconds to deserialise.
        self._client.run(score_on_worker, model_location, ["warm-up"])
        self._workers = max(len(self._client.scheduler_info()["workers"]), 1)
        # Each chunk is split across all workers, so no worker idles while the last chunks of
        # a file finish; a second chunk in flight keeps them busy while the next one is read.
        self.in_flight = 2

    def submit(self, texts: list[str]) -> ScoreHandle:
        if not texts:
            return _Done([])
        size = -(-len(texts) // self._workers)  # ceiling division
        futures = [
            self._client.submit(
                score_on_worker, self.model_location, texts[start : start + size], pure=False
            )
            for start in range(0, len(texts), size)
        ]
        return _Joined(futures)

    def close(self) -> None:
        """Close the client and the LocalCluster it started; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._client.close()  # type: ignore[no-untyped-call]
        if self._cluster is not None:
            self._cluster.close()


@contextmanager
def open_engine(
    options: BatchOptions, model: LoadedModel, status: Callable[[str], None]
) -> Iterator[Engine]:
    """The engine ``options`` name, closed after the block (a Dask cluster it started too)."""
    if options.engine == "local":
        yield LocalEngine(model.score)
        return
    status(f"Starting Dask ({options.scheduler or f'{options.workers} local workers'})")
    engine = DaskEngine(model.location, workers=options.workers, scheduler=options.scheduler)
    try:
        yield engine
    finally:
        engine.close()


def scored(engine: Engine, chunks: Iterable[Screened]) -> Iterator[tuple[Screened, Any]]:
    """Each chunk with its scores, in input order; on a cluster the next chunks are read and
    sent while the oldest is scored."""
    pending: deque[tuple[Screened, ScoreHandle]] = deque()
    for chunk in chunks:
        pending.append((chunk, engine.submit(chunk.texts)))
        if len(pending) >= engine.in_flight:
            oldest, handle = pending.popleft()
            yield oldest, handle.result()
    for oldest, handle in pending:
        yield oldest, handle.result()
