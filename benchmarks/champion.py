"""The champion configuration, fitted once for benchmarks that need a realistic model.

NB-weighted logistic regression on word 1-3-grams with C=30 (what ``sentimentops train``
selects on the official split), fitted on the official train half and saved as an MLflow model
folder. Fitting takes about a minute on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "imdb" / "imdb_reviews.parquet"


def official_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = pd.read_parquet(DATA)
    return data[data["split"] == "train"], data[data["split"] == "test"]


def fit_champion(train: pd.DataFrame) -> object:
    from sentimentops.config import load_settings
    from sentimentops.models.candidates import build_candidate

    pipeline = build_candidate("nb_logreg", load_settings()).pipeline
    pipeline.set_params(classifier__C=30.0)
    pipeline.fit(train["review"].tolist(), train["sentiment"].to_numpy())
    return pipeline


def save_champion(pipeline: object, folder: Path) -> Path:
    from sentimentops.tracking.flavor import save_model

    save_model(pipeline, str(folder))  # type: ignore[arg-type]
    return folder
