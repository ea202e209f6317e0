"""Where chunks are scored: in this process (``local``) or on a Dask cluster (``dask``), whose
workers load the model once each and are sent only its location and texts."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sentimentops.batch.options import BatchOptions
from sentimentops.batch.rules import Screened
from sentimentops.errors import BadInputError
from sentimentops.helper_process import ctrl_c_deferred
from sentimentops.tracking.loading import LoadedModel, load_version

__all__ = [
    "DaskEngine",
    "Engine",
    "LocalEngine",
    "open_engine",
    "quiet_cancellations",
    "score_on_worker",
    "scored",
]


class ScoreHandle(Protocol):
    def result(self) -> Any: ...


class Engine(Protocol):
    in_flight: int  # chunks kept in flight, so that a cluster scores while the next is read

    def submit(self, texts: list[str]) -> ScoreHandle: ...


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


@dataclass
class LocalEngine:
    """Scores each chunk at once in this process."""

    score: Callable[[list[str]], Any]
    in_flight: int = 1

    def submit(self, texts: list[str]) -> ScoreHandle:
        return _Done(self.score(texts) if texts else [])


_WORKER_MODELS: dict[str, Callable[[list[str]], Any]] = {}  # per worker process, by location


def score_on_worker(model_location: str, texts: list[str]) -> np.ndarray:
    """Runs on a Dask worker: load the model once per process, then score."""
    if model_location not in _WORKER_MODELS:
        _WORKER_MODELS[model_location] = load_version(model_location).score
    return np.asarray(_WORKER_MODELS[model_location](texts))


def quiet_cancellations() -> None:
    """Runs on a Dask worker: a chunk cancelled by Ctrl-C is not logged as a warning by every
    worker (the command says what happened). The logger's only warning is that one; its errors
    still show."""
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


class DaskEngine:
    """Scores chunks on Dask, a LocalCluster of ``workers`` processes or the one at ``scheduler``
    (``tcp://host:8786``): each chunk split across all workers, two chunks in flight."""

    in_flight = 2

    def __init__(self, model_location: str, *, workers: int = 2, scheduler: str | None = None):
        from multiprocessing import resource_tracker

        from distributed import Client, LocalCluster

        self.model_location = model_location
        self._cluster: Any = None
        if scheduler is None:
            # Started first: the tracker unblocks Ctrl-C in the thread that starts it.
            resource_tracker.ensure_running()
            with ctrl_c_deferred():  # its workers never get Ctrl-C: this process closes them
                # Its HTTP server (dashboard, /metrics) on a free loopback port: None would
                # still take 8787, and warn when another cluster has it.
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers, threads_per_worker=1, dashboard_address="127.0.0.1:0"
                )
            self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            self._client.wait_for_workers(workers, timeout=120)
            self._client.run(quiet_cancellations)  # our cluster only: a user's is left alone
        else:
            try:
                self._client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
            except (OSError, ValueError) as error:  # unreachable, or not an address
                raise BadInputError(
                    f"Cannot reach the Dask scheduler at {scheduler} ({error}). Check "
                    "--scheduler (tcp://HOST:PORT) and that the scheduler runs there."
                ) from None
        # Load the model on every worker now, not during the first chunk (seconds for a big one).
        self._client.run(score_on_worker, model_location, ["warm-up"])
        self._workers = max(len(self._client.scheduler_info()["workers"]), 1)

    def submit(self, texts: list[str]) -> ScoreHandle:
        if not texts:
            return _Done([])
        size = -(-len(texts) // self._workers)  # ceiling division
        location = self.model_location
        return _Joined(
            [
                self._client.submit(score_on_worker, location, texts[i : i + size], pure=False)
                for i in range(0, len(texts), size)
            ]
        )

    def close(self) -> None:
        """Close the client and the LocalCluster it started."""
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
    """Each chunk with its scores, in input order, ``engine.in_flight`` chunks at a time."""
    pending: deque[tuple[Screened, ScoreHandle]] = deque()
    for chunk in chunks:
        pending.append((chunk, engine.submit(chunk.texts)))
        if len(pending) >= engine.in_flight:
            oldest, handle = pending.popleft()
            yield oldest, handle.result()
    for oldest, handle in pending:
        yield oldest, handle.result()
