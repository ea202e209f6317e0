"""Load the model a URI names: ``models:/name@alias``, ``models:/name/version`` or a folder.

Batch prediction, the API and monitoring all start from a URI a user typed; this is the one
place that turns it into a fitted pipeline with its name, version and registry record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentimentops.errors import ModelNotFoundError
from sentimentops.tracking.flavor import MODEL_FILE
from sentimentops.tracking.registry import ModelVersionInfo

__all__ = ["LoadedVersion", "load_version", "require_model_folder", "resolve_location"]


@dataclass(frozen=True)
class LoadedVersion:
    pipeline: Any  # a SentimentPipeline
    name: str
    version: str  # "local" for a folder
    location: str  # what another process loads again: models:/name/version or the folder
    info: ModelVersionInfo | None  # the registry record; None for a folder

    # What the registry knows, empty for a folder (which has no registry record).
    @property
    def run_id(self) -> str | None:
        return self.info.run_id if self.info else None

    @property
    def test_metrics(self) -> dict[str, float]:
        return dict(self.info.metrics) if self.info else {}

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.info.tags) if self.info else {}


def require_model_folder(uri: str) -> Path:
    """``uri`` as a folder holding an MLflow model saved by sentimentops.

    Raises:
        ModelNotFoundError: it is not one.
    """
    folder = Path(uri)
    if not (folder / MODEL_FILE).is_file():
        raise ModelNotFoundError(
            f"{uri} is neither a models:/ URI nor a folder with an MLflow model (MLmodel and "
            "model.skops). Use models:/imdb-sentiment@champion or a downloaded model folder."
        )
    return folder


def resolve_location(uri: str) -> str:
    """The version a registry URI names now, as ``models:/name/version``, looked up in the
    configured registry (``MLFLOW_TRACKING_URI``, ``tracking.uri`` or the default store under
    ``SENTIMENTOPS_HOME``); any other URI unchanged.

    Raises:
        ModelNotFoundError: no such model, alias or version.
        TrackingUnavailableError: the registry does not answer.
    """
    if not uri.startswith("models:/"):
        return uri
    from sentimentops.config import get_settings
    from sentimentops.tracking.registry import resolve_version
    from sentimentops.tracking.store import connect_registry

    connect_registry(get_settings())
    name, version = resolve_version(uri)
    return f"models:/{name}/{version}"


def load_version(uri: str) -> LoadedVersion:
    """The pipeline ``uri`` names, from the configured registry or a local folder.

    Raises:
        ModelNotFoundError: nothing at ``uri``.
        TrackingUnavailableError: the registry does not answer.
    """
    if not uri.startswith("models:/"):
        from sentimentops.tracking.flavor import load_pipeline

        folder = require_model_folder(uri)
        return LoadedVersion(load_pipeline(str(folder)), folder.name, "local", str(folder), None)

    from sentimentops.tracking.registry import load_model, version_info

    location = resolve_location(uri)
    name, version = location.removeprefix("models:/").rsplit("/", 1)
    return LoadedVersion(load_model(location), name, version, location, version_info(name, version))
