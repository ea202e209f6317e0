"""The model behind the API: a loaded pipeline with its identity, and the slot it is served from.

A reload loads the new model beside the old one, then swaps one reference: a request finishes
on the model it started with, and none fails or waits for the swap.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from sentimentops.models.explain import feature_weights, row_contributions
from sentimentops.tracking.loading import load_version, require_model_folder

__all__ = ["ModelSlot", "ReloadOutcome", "ServedModel", "load_served_model", "resolved_version"]

log = logging.getLogger(__name__)


@dataclass
class ServedModel:
    """A pipeline from raw text to the probability of positive, and where it came from."""

    pipeline: Any  # a SentimentPipeline
    name: str
    version: str
    uri: str  # what was asked for: models:/imdb-sentiment@champion or a folder
    alias: str | None = None
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    data_digest: str | None = None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _weights: pd.Series | None = field(default=None, repr=False)
    _weights_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def score(self, texts: list[str]) -> np.ndarray:
        """Probability of positive per text; NaN for a text with nothing left after cleaning
        (markup, HTML entities or invisible characters only), which no caller may answer with
        a prediction: its score would be the model's intercept, a guess about nothing."""
        return np.asarray(self.pipeline.positive_scores_or_nan(texts), dtype=float)

    def explain(self, texts: list[str], n: int = 5) -> list[list[tuple[str, float]]]:
        """The ``n`` n-grams that moved each text's score most, with their contributions."""
        with self._weights_lock:
            # Computed on first use, not at load: most deployments never ask for explanations,
            # and the weights walk the whole vocabulary.
            if self._weights is None:
                self._weights = feature_weights(self.pipeline)
        return row_contributions(self.pipeline, texts, n, weights=self._weights)


def load_served_model(uri: str) -> ServedModel:
    """Load ``models:/name@alias``, ``models:/name/version`` or a local MLflow model folder.

    Raises:
        ModelNotFoundError: nothing loadable at ``uri``.
        TrackingUnavailableError: the registry does not answer.
    """
    loaded = load_version(uri)
    return ServedModel(
        pipeline=loaded.pipeline,
        name=loaded.name,
        version=loaded.version,
        uri=uri,
        alias=uri.split("@", 1)[1] if "@" in uri else None,
        run_id=loaded.run_id,
        metrics=loaded.test_metrics,
        data_digest=loaded.tags.get("data_digest"),
    )


def resolved_version(uri: str) -> str:
    """The version ``uri`` resolves to now: what a reload would load (``local`` for a folder).

    Raises:
        ModelNotFoundError: no such registered version, alias or model folder.
        TrackingUnavailableError: the registry does not answer.
    """
    if not uri.startswith("models:/"):
        require_model_folder(uri)
        return "local"
    from sentimentops.tracking.registry import resolve_version

    return resolve_version(uri)[1]


class ModelSlot:
    """The served model (``current``, None until the first load), swapped atomically by
    :meth:`reload`; reloads run one at a time."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        self._reload_lock = threading.Lock()

    def reload(self, *, force: bool = False) -> ReloadOutcome:
        """Load the model ``uri`` points at now, if it differs from the served one (or always,
        with ``force``: a folder rewritten in place keeps its version, "local").

        Never raises: a failure is logged, returned and kept in ``last_error``, and the current
        model goes on serving.
        """
        with self._reload_lock:
            try:
                served = self.current
                if (
                    not force
                    and served is not None
                    and resolved_version(self.uri) == served.version
                ):
                    self.last_error = None  # the registry answers again, if it did not before
                    return ReloadOutcome("unchanged")
                started = time.perf_counter()
                loaded = load_served_model(self.uri)
                # Frozen out of the cyclic collector's walks (docs/decisions.md, Serving).
                gc.collect()
                gc.freeze()
                self.current = loaded  # one reference assignment: atomic for readers
                self.last_error = None
                seconds = time.perf_counter() - started
                log.info(
                    "serving %s version %s (loaded in %.1f s)", loaded.name, loaded.version, seconds
                )
                return ReloadOutcome("swapped")
            except Exception as error:  # a reload must never take the API down
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("model reload from %s failed: %s", self.uri, self.last_error)
                return ReloadOutcome("failed", self.last_error)


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: swapped in a new model, found the same one, or failed (and why)."""

    kind: Literal["swapped", "unchanged", "failed"]
    error: str | None = None
