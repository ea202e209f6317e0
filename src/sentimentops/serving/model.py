"""The slot the API's model is served from.

:class:`ModelSlot` holds the model every request uses. A reload loads the new model beside the
old one and then replaces a single reference, so a request that started on the old model
finishes on it and the next one gets the new model: no request fails or waits for the swap.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sentimentops.tracking.loading import LoadedModel, load_version, require_model_folder

__all__ = ["ModelSlot", "ReloadOutcome", "resolved_version"]

log = logging.getLogger(__name__)


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
    """The served model, swapped atomically by :meth:`reload`.

    ``current`` is None until the first load succeeds (the API is not ready until then).
    Reloads run one at a time; a failed reload keeps the model that was serving.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._reload_lock = threading.Lock()

    def reload(self, *, force: bool = False) -> ReloadOutcome:
        """Load the model ``uri`` points at now, if it differs from the served one (or always,
        with ``force``: a model folder rewritten in place keeps its version, "local").

        Never raises: a failure is logged, returned with its reason and kept in ``last_error``
        while the current model goes on serving.
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
                loaded = load_version(self.uri)
                # The model and the imported libraries live as long as the process. Frozen, they
                # are out of the cyclic collector's reach: a full collection no longer walks
                # them (150 ms and more with MLflow imported, a pause every request in flight
                # would wait through). The replaced model, frozen too, is freed by reference
                # counting all the same: it holds no reference cycles. Garbage cycles are
                # collected first, not frozen for good; after the first freeze that collection
                # walks only the objects made since.
                gc.collect()
                gc.freeze()
                self.current = loaded  # one reference assignment: atomic for readers
                self.last_error = None
                log.info(
                    "serving %s version %s (loaded in %.1f s)",
                    loaded.name,
                    loaded.version,
                    time.perf_counter() - started,
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
