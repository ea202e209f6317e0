"""A small real model saved as an MLflow model folder, for batch tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import load_settings
from sentimentops.models.candidates import build_candidate
from sentimentops.tracking.flavor import save_model


@pytest.fixture(scope="session")
def model_folder(reference_reviews: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    train = reference_reviews.sample(3000, random_state=2)
    pipeline = build_candidate("logreg", load_settings()).pipeline
    pipeline.fit(train["review"].tolist(), train["sentiment"].to_numpy())
    folder = tmp_path_factory.mktemp("model") / "imdb-logreg"
    save_model(pipeline, str(folder))
    return folder
