"""A model trained once per session on a sample of the vendored data, for model tests."""

from __future__ import annotations

import pandas as pd
import pytest

from sentimentops.config import load_settings
from sentimentops.models.candidates import build_candidate
from sentimentops.models.sentiment import SentimentPipeline


@pytest.fixture(scope="session")
def trained_model(reference_reviews: pd.DataFrame) -> SentimentPipeline:
    """NB-weighted logistic regression on 8,000 official-train reviews (about 20 s)."""
    train = reference_reviews[reference_reviews["split"] == "train"].sample(8000, random_state=0)
    model = build_candidate("nb_logreg", load_settings()).pipeline
    model.fit(train["review"].tolist(), train["sentiment"].to_numpy())
    return model
