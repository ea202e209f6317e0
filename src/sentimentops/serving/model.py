"""The slot the API's model is served from: a reload loads beside the old model and swaps one
reference, so no request fails or waits for it."""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sentimentops.errors import ModelNotFoundError
from sentimentops.tracking.loading import (
    LoadedModel,
    load_version,
    require_model_folder,
    resolve_location,
)

__all__ = ["ModelSlot", "ReloadOutcome"]

log = logging.getLogger(__name__)


class ModelSlot:
    """The served model (``current``, None until loaded), swapped atomically by :meth:`reload`.
    An ``optional`` slot (the challenger's) empties when its alias goes, without failing."""

    def __init__(self, uri: str, *, optional: bool = False, role: str = "champion") -> None:
        self.uri = uri
        self.optional = optional
        self.role = role
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._reload_lock = threading.Lock()

    def reload(self, *, force: bool = False, unless_at: str | None = None) -> ReloadOutcome:
        """Load the model ``uri`` points at now if it changed (always with ``force``); an optional
        slot naming ``unless_at`` (the champion) empties instead. Never raises: a failure is
        logged, returned and kept in ``last_error``, and the current model goes on serving."""
        with self._reload_lock:
            try:
                served = self.current
                # No lookup before the first load: it takes the answer a prefetch may hold.
                asks = unless_at is not None or (not force and served is not None)
                location = self._location() if asks else None
                if self.optional and unless_at is not None and location == unless_at:
                    self.current = None
                    self.last_error = f"it names the champion itself ({unless_at})"
                    return ReloadOutcome("absent")
                if not force and served is not None and location == served.location:
                    self.last_error = None  # the registry answers again, if it did not before
                    return ReloadOutcome("unchanged")
                started = time.perf_counter()
                loaded = load_version(self.uri)
                # Frozen out of the cyclic collector's walks (docs/decisions.md, Serving).
                gc.collect()
                gc.freeze()
                self.current = loaded  # one reference assignment: atomic for readers
                self.last_error = None
                log.info(
                    "%s %s version %s (loaded in %.1f s)",
                    "serving" if self.role == "champion" else f"{self.role} is",
                    *(loaded.name, loaded.version, time.perf_counter() - started),
                )
                return ReloadOutcome("swapped")
            except ModelNotFoundError as error:
                if not self.optional:
                    return self._failed(error)
                if self.current is not None or self.last_error is None:  # said once per absence
                    log.info("no %s at %s (%s)", self.role, self.uri, error)
                self.current = None
                self.last_error = str(error)
                return ReloadOutcome("absent", self.last_error)
            except Exception as error:  # a reload must never take the API down
                return self._failed(error)

    def _location(self) -> str:
        """Where ``uri`` points now: ``models:/name/version``, or the folder."""
        if self.uri.startswith("models:/"):
            return resolve_location(self.uri)
        return str(require_model_folder(self.uri))

    def _failed(self, error: Exception) -> ReloadOutcome:
        self.last_error = f"{type(error).__name__}: {error}"
        log.warning("model reload from %s failed: %s", self.uri, self.last_error)
        return ReloadOutcome("failed", self.last_error)


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did (swapped, unchanged, absent, failed) and the error, if any."""

    kind: Literal["swapped", "unchanged", "absent", "failed"]
    error: str | None = None
