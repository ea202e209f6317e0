"""Where chunks are scored: in this process (``local``) or on a Dask cluster (``dask``).

An engine takes a chunk's texts and returns a handle whose ``result()`` gives the scores, so
the predictor can keep several chunks in flight on a cluster while it reads the next one, and
still write the results in input order. On Dask, each worker process loads the model once (a
per-process cache) and is sent only model references and texts, never the model itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["DaskEngine", "Engine", "LocalEngine", "ScoreHandle", "score_on_worker"]


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
        return _Done(self._score(texts))

    def close(self) -> None:
        return None


# Per worker process: model location -> scoring function, loaded on first use.
_WORKER_MODELS: dict[str, Callable[[list[str]], Any]] = {}


def score_on_worker(model_location: str, texts: list[str]) -> np.ndarray:
    """Runs on a Dask worker: load the model once per process, then score."""
    score = _WORKER_MODELS.get(model_location)
    if score is None:
        from sentimentops.batch.model import load_for_scoring

        score = load_for_scoring(model_location).score
        _WORKER_MODELS[model_location] = score
    return np.asarray(score(texts))


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
