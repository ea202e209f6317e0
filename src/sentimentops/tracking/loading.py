"""Load the model a URI names (``models:/name@alias``, ``models:/name/version`` or a folder)
as the one loaded-model type that batch, the API, monitoring and the SQS worker share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentimentops.errors import ModelNotFoundError
from sentimentops.tracking.flavor import MODEL_FILE

if TYPE_CHECKING:
    import pandas as pd

    from sentimentops.models.sentiment import SentimentPipeline

__all__ = ["LoadedModel", "load_version", "require_model_folder", "resolve_location"]


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
    configured registry; any other URI unchanged.

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


def load_version(uri: str, *, with_reference: bool = False) -> LoadedModel:
    """The model ``uri`` names, from the configured registry or a local folder; with its
    reference sample (monitoring's: held-out test reviews, labels and scores) if asked for and
    the training run logged one.

    Raises:
        ModelNotFoundError: nothing at ``uri``.
        ModelIntegrityError: its bytes changed since it was saved.
        TrackingUnavailableError: the registry does not answer.
    """
    if not uri.startswith("models:/"):
        from sentimentops.tracking.flavor import load_pipeline

        folder = require_model_folder(uri)
        return LoadedModel(load_pipeline(str(folder)), folder.name, "local", str(folder), uri)

    from sentimentops.tracking.registry import load_model, version_info

    location = resolve_location(uri)
    name, version = location.removeprefix("models:/").rsplit("/", 1)
    info = version_info(name, version)
    pipeline, reference = load_model(location), None
    if with_reference:
        from sentimentops.tracking.runs import load_reference_sample

        reference = load_reference_sample(info.run_id)
    return LoadedModel(
        pipeline, name, version, location, uri, info.run_id, info.metrics, info.tags, reference
    )
