"""Load the model a batch run scores with: a registry URI or a local MLflow model folder."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from sentimentops.batch.predictor import LoadedModel
from sentimentops.errors import ModelNotFoundError
from sentimentops.models.explain import explain_rows

__all__ = ["load_for_scoring"]


def load_for_scoring(uri: str) -> LoadedModel:
    """``models:/imdb-sentiment@champion`` (through the configured registry) or a folder
    holding an MLflow model saved by sentimentops (``MLmodel`` and ``model.skops``)."""
    if uri.startswith("models:/"):
        from sentimentops.config import get_settings
        from sentimentops.tracking.registry import load_model, resolve_version
        from sentimentops.tracking.store import connect

        connect(get_settings())
        name, version = resolve_version(uri)
        pipeline = load_model(f"models:/{name}/{version}")
        return LoadedModel(
            score=pipeline.positive_scores_or_nan,
            name=name,
            version=version,
            location=f"models:/{name}/{version}",
            explain=partial(explain_rows, pipeline),
        )
    folder = Path(uri)
    if not (folder / "model.skops").is_file():
        raise ModelNotFoundError(
            f"{uri} is neither a models:/ URI nor a folder with an MLflow model (MLmodel and "
            "model.skops). Use models:/imdb-sentiment@champion or a downloaded model folder."
        )
    from sentimentops.tracking.flavor import load_pipeline

    pipeline = load_pipeline(str(folder))
    return LoadedModel(
        score=pipeline.positive_scores_or_nan,
        name=folder.name,
        version="local",
        location=str(folder),
        explain=partial(explain_rows, pipeline),
    )
