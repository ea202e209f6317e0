"""Load the model a batch run scores with: a registry URI or a local MLflow model folder."""

from __future__ import annotations

from functools import partial

from sentimentops.batch.predictor import LoadedModel
from sentimentops.models.explain import explain_rows
from sentimentops.tracking.loading import load_version

__all__ = ["load_for_scoring"]


def load_for_scoring(uri: str) -> LoadedModel:
    """``models:/imdb-sentiment@champion`` (through the configured registry) or a folder
    holding an MLflow model saved by sentimentops (``MLmodel`` and ``model.skops``).

    Raises:
        ModelNotFoundError: nothing at ``uri``.
    """
    loaded = load_version(uri)
    return LoadedModel(
        score=loaded.pipeline.positive_scores_or_nan,
        name=loaded.name,
        version=loaded.version,
        location=loaded.location,
        explain=partial(explain_rows, loaded.pipeline),
    )
