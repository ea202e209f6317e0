"""The champion configuration, fitted once for benchmarks that need a realistic model.

NB-weighted logistic regression on word 1-3-grams with C=30 (what ``sentimentops train``
selects on the official split), fitted on the official train half and saved as an MLflow model
folder. Fitting takes about a minute on 2 cores; ``--model FOLDER`` reuses a saved one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
from calibration import DATA


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


def champion_folder(model: Path | None, scratch: Path) -> Path:
    """``model`` when given, else the champion configuration fitted now and saved in
    ``scratch``."""
    if model is not None:
        return model
    return save_champion(fit_champion(official_split()[0]), scratch / "model")


def load_champion(folder: Path) -> Any:
    from sentimentops.tracking.flavor import load_pipeline

    return load_pipeline(str(folder))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fit the champion configuration and save it.")
    parser.add_argument("folder", type=Path, help="where to save the model folder")
    save_champion(fit_champion(official_split()[0]), parser.parse_args().folder)
