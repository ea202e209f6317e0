"""A small real model with a held-out reference sample, as training stores it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.tracking.loading import LoadedModel


@pytest.fixture(scope="session")
def monitored_model(model_folder: Path, reference_reviews: pd.DataFrame) -> LoadedModel:
    from sentimentops.tracking.flavor import load_pipeline

    pipeline = load_pipeline(str(model_folder))
    test = reference_reviews[reference_reviews["split"] == "test"]
    reference = test.sample(2000, random_state=11)[["review", "sentiment"]].reset_index(drop=True)
    scores = pipeline.positive_scores(reference["review"].tolist())
    reference = reference.assign(
        score=scores, label=np.where(scores >= 0.5, "positive", "negative")
    )
    metrics = {"test_accuracy": 0.85}
    return LoadedModel(
        pipeline, "imdb-logreg", "local", str(model_folder), metrics=metrics, reference=reference
    )


@pytest.fixture(scope="session")
def held_out(reference_reviews: pd.DataFrame, monitored_model: LoadedModel) -> pd.DataFrame:
    """Test-split reviews outside the reference sample."""
    test = reference_reviews[reference_reviews["split"] == "test"]
    used = set(monitored_model.reference["review"])  # type: ignore[index]
    return test[~test["review"].isin(used)][["review", "sentiment"]].reset_index(drop=True)
