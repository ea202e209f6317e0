"""Load the model a URI names (``models:/name@alias``, ``models:/name/version`` or a folder)
as the one loaded-model type that batch, the API, monitoring and the SQS worker share."""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentimentops.errors import ModelNotFoundError
from sentimentops.helper_process import follow_the_command
from sentimentops.tracking.fetch import FetchedVersion, fetch_version
from sentimentops.tracking.remembered import Recall, recall, remember

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    import pandas as pd

    from sentimentops.models.sentiment import SentimentPipeline

__all__ = [
    "LoadedModel",
    "fetched",
    "load_version",
    "loading_ahead",
    "prefetch",
    "require_model_folder",
    "resolve_location",
]


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A fitted pipeline, where it came from, and what the registry knows of it (empty for a
    folder, which has no registry record)."""

    pipeline: SentimentPipeline
    name: str
    version: str  # "local" for a folder
    location: str  # what another process loads again: models:/name/version or the folder
    uri: str = ""  # what was asked for: models:/imdb-sentiment@champion, or the folder
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # of the training run: test_*
    tags: dict[str, str] = field(default_factory=dict)
    reference: pd.DataFrame | None = None  # monitoring's reference sample, when loaded with it
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def alias(self) -> str | None:
        """The alias asked for (``champion``), None for a version or a folder."""
        return self.uri.split("@", 1)[1] if "@" in self.uri else None

    @property
    def data_digest(self) -> str | None:
        """The digest of the data the model was trained on, when the registry recorded it."""
        return self.tags.get("data_digest")

    @property
    def test_accuracy(self) -> float | None:
        """Accuracy on the held-out test split at training, when recorded."""
        return self.metrics.get("test_accuracy")

    def score(self, texts: list[str]) -> np.ndarray:
        """Probability of positive per text; NaN for a text with nothing left after cleaning
        (markup or invisible characters only), which no caller may answer with a prediction."""
        return np.asarray(self.pipeline.positive_scores_or_nan(texts), dtype=float)

    def explain(self, texts: list[str], n: int = 5) -> list[list[tuple[str, float]]]:
        """The ``n`` n-grams that moved each text's score most, with their contributions."""
        from sentimentops.models.explain import row_contributions

        return row_contributions(self.pipeline, texts, n, weights=self._weights)

    def top_ngrams(self, texts: list[str], n: int = 5) -> list[str]:
        """:meth:`explain` as one string per text: ``ngram:+0.123; ...``."""
        rows = self.explain(texts, n)
        return ["; ".join(f"{ngram}:{value:+.3f}" for ngram, value in row) for row in rows]

    @cached_property
    def _weights(self) -> pd.Series:
        # On first use, not at load: most callers never explain, and this walks the vocabulary.
        from sentimentops.models.explain import feature_weights

        return feature_weights(self.pipeline)


def require_model_folder(uri: str) -> Path:
    """``uri`` as a folder holding a sentimentops MLflow model; ModelNotFoundError if not."""
    from sentimentops.tracking.flavor import MODEL_FILE

    folder = Path(uri)
    if not (folder / MODEL_FILE).is_file():
        raise ModelNotFoundError(
            f"{uri} is neither a models:/ URI nor a folder with an MLflow model (MLmodel and "
            "model.skops). Use models:/imdb-sentiment@champion or a downloaded model folder."
        )
    return folder


def resolve_location(uri: str) -> str:
    """The version a registry URI names now, as ``models:/name/version``; any other URI unchanged.
    ModelNotFoundError (no such version), TrackingUnavailableError (no answer)."""
    if not uri.startswith("models:/"):
        return uri
    from sentimentops.config import get_settings
    from sentimentops.tracking.registry import resolve_version
    from sentimentops.tracking.store import connect_registry

    connect_registry(get_settings(), existing=True)
    name, version = resolve_version(uri)
    return f"models:/{name}/{version}"


def load_version(uri: str, *, with_reference: bool = False) -> LoadedModel:
    """The model ``uri`` names (registry or folder), with its run's reference sample if asked for.
    ModelNotFoundError, ModelIntegrityError (bytes changed), TrackingUnavailableError."""
    if not uri.startswith("models:/"):
        from sentimentops.tracking.flavor import load_pipeline

        folder = require_model_folder(uri)
        return LoadedModel(load_pipeline(str(folder)), folder.name, "local", str(folder), uri)
    prefetch(uri, with_reference=with_reference)
    from sentimentops.tracking.flavor import CHECKSUM_KEY, import_skops, load_pipeline

    key = _key(uri, with_reference)
    if key not in _LOADING:
        import_skops()  # load_pipeline would import it late: here it overlaps the lookup
    found = fetched(uri, with_reference=with_reference)
    _FETCHED.pop(key, None)  # the next load asks the registry again

    try:
        pipeline = _loaded_ahead(key)
        if pipeline is None:
            pipeline = load_pipeline(found.folder, found.info.tags.get(CHECKSUM_KEY))
    except FileNotFoundError as error:
        raise ModelNotFoundError(f"No model at {uri}: {error}") from None
    location = f"models:/{found.name}/{found.version}"
    info = found.info
    return LoadedModel(
        pipeline, found.name, found.version, location, uri, info.run_id, info.metrics,
        info.tags, found.reference,
    )  # fmt: skip


def prefetch(uri: str, *, with_reference: bool = False, load: bool = False) -> None:
    """Look ``uri`` up in a process of its own while this one goes on; with ``load``, that process
    loads the model too and hands it over (docs/decisions.md, "Tracking"). :func:`load_version`
    collects both; without ``load`` it imports the model's libraries while the lookup runs."""
    key = _key(uri, with_reference)
    _forget_stale()
    asked = key in _PREFETCHING or key in _FETCHED
    remembered = Recall(None, None) if asked else _recall(key)
    if remembered.answer is not None:  # the registry's rows are as when it was remembered
        _FETCHED[key], asked = (remembered.answer, time.monotonic()), True
    # A daemonic process (a Dask worker) may not start one: it looks the model up itself.
    if not uri.startswith("models:/") or multiprocessing.current_process().daemon:
        return
    # Fork (milliseconds) unless other threads might hold a lock the child would wait on.
    one_thread = threading.active_count() == 1
    look_up = "mlflow" not in sys.modules and not asked
    known = _FETCHED[key][0] if key in _FETCHED else None
    # Spawned, the process would import everything again: loading there would gain nothing.
    load = load and one_thread and key not in _LOADING and (look_up or known is not None)
    if not (look_up or load):
        return
    context = (
        multiprocessing.get_context("fork") if one_thread else multiprocessing.get_context("spawn")
    )
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_fetch_into,
        args=(sending, uri, with_reference, None if look_up else known, load),
        daemon=True,
        name="prefetch",
    )
    try:
        process.start()
    except OSError:  # no process to spare (a limit on them): ask and load in this one
        receiving.close()
        return
    finally:
        sending.close()
    now = time.monotonic()
    if look_up:
        _PREFETCHING[key] = (process, receiving, now, remembered.fingerprint)
    if load:
        _LOADING[key] = (process, receiving, now)


def loading_ahead(uri: str, *, with_reference: bool = False) -> bool:
    """Whether a process started by :func:`prefetch` is loading the model ``uri`` names."""
    return _key(uri, with_reference) in _LOADING


def fetched(uri: str, *, with_reference: bool = False) -> FetchedVersion:
    """What the registry says of ``uri``: the answer :func:`prefetch` started, else asked now.
    ModelNotFoundError (no such version), TrackingUnavailableError (no answer)."""
    key = _key(uri, with_reference)
    _forget_stale()
    if key in _FETCHED:
        return _FETCHED[key][0]
    answer: FetchedVersion | BaseException | None = None
    if key in _PREFETCHING:
        process, receiving, asked_at, before = _PREFETCHING.pop(key)
        with contextlib.suppress(EOFError):  # the process died: ask again here
            answer = receiving.recv()
        if answer is None or isinstance(answer, BaseException):
            _LOADING.pop(key, None)  # nothing will be loaded there
        if key not in _LOADING:  # else it goes on loading the model
            process.join()
    else:
        asked_at, remembered = time.monotonic(), _recall(key)
        if remembered.answer is not None:
            _FETCHED[key] = (remembered.answer, asked_at)
            return remembered.answer
        before = remembered.fingerprint
    if isinstance(answer, BaseException):
        raise answer
    if answer is None:
        answer = fetch_version(uri, with_reference=with_reference)
    remember(uri, key[2], _cache_folder(), answer, before)
    _FETCHED[key] = (answer, asked_at)
    return answer


def _key(uri: str, with_reference: bool) -> tuple[str, bool, str]:
    """An answer is for one URI in one registry (a process may use several)."""
    from sentimentops.config import get_settings
    from sentimentops.tracking.store import resolve_tracking_uri

    return uri, with_reference, resolve_tracking_uri(get_settings())


def _recall(key: _Key) -> Recall:
    uri, with_reference, tracking_uri = key
    return recall(uri, tracking_uri, _cache_folder(), with_reference=with_reference)


def _cache_folder() -> Path:
    from sentimentops.config import get_settings

    return get_settings().state_path("cache", "registry")


def _forget_stale() -> None:
    """Drop answers older than :data:`_FRESH_SECONDS` never used: the alias may have moved."""
    oldest = time.monotonic() - _FRESH_SECONDS
    for key, (process, receiving, asked_at, _) in list(_PREFETCHING.items()):
        if asked_at < oldest:
            del _PREFETCHING[key]
            process.terminate()  # blocked on sending an answer no one will read
            process.join()
            receiving.close()
    for key, (process, receiving, asked_at) in list(_LOADING.items()):
        if asked_at < oldest:
            del _LOADING[key]
            process.terminate()
            process.join()
            receiving.close()
    for key, (_, asked_at) in list(_FETCHED.items()):
        if asked_at < oldest:
            del _FETCHED[key]


def _loaded_ahead(key: _Key) -> SentimentPipeline | None:
    """The pipeline a process started by :func:`prefetch` loaded, or None (none was asked for,
    or the process died: then it is loaded here). Its error (integrity, a missing file) is
    raised here."""
    if key not in _LOADING:
        return None
    process, receiving, _ = _LOADING.pop(key)
    try:
        loaded: SentimentPipeline | BaseException = receiving.recv()
    except EOFError:
        return None
    finally:
        process.join()
        receiving.close()
    if isinstance(loaded, BaseException):
        raise loaded
    return loaded


def _fetch_into(
    pipe: Connection, uri: str, with_reference: bool, known: FetchedVersion | None, load: bool
) -> None:
    """Send the registry's answer for ``uri`` (unless ``known``), then with ``load`` the model it
    names, loaded and checked here, pickled: the bytes come from this process, not from a file."""
    follow_the_command()
    answer: FetchedVersion | BaseException | None = known
    if answer is None:
        try:
            answer = fetch_version(uri, with_reference=with_reference)
        except Exception as error:  # sent to the parent, which raises it
            answer = error
        pipe.send(answer)
    if load and isinstance(answer, FetchedVersion):
        from sentimentops.tracking.flavor import CHECKSUM_KEY, load_pipeline

        try:
            loaded: SentimentPipeline | BaseException = load_pipeline(
                answer.folder, answer.info.tags.get(CHECKSUM_KEY)
            )
        except Exception as error:
            loaded = error
        pipe.send(loaded)
    pipe.close()


# Answers in flight and received, by _key, with when asked: used once, as an alias moves.
_FRESH_SECONDS = 60.0
_Key = tuple[str, bool, str]
# In flight, also the fingerprint of the registry's rows when asked (tracking/remembered.py).
_PREFETCHING: dict[_Key, tuple[BaseProcess, Connection, float, str | None]] = {}
_FETCHED: dict[_Key, tuple[FetchedVersion, float]] = {}
# Models being loaded by a prefetch process (the lookup's own, when it looked up too).
_LOADING: dict[_Key, tuple[BaseProcess, Connection, float]] = {}
