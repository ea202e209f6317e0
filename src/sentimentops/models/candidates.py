"""The candidate families (logistic regression, Platt-calibrated linear SVM, random forest, and
logistic regression on NB-weighted n-grams): one SentimentPipeline each, with its search grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from sentimentops.config import CandidateSettings, ModelFamily, Settings
from sentimentops.errors import ConfigError
from sentimentops.features.build import build_feature_pipeline, build_model_pipeline
from sentimentops.models.sentiment import SentimentPipeline

__all__ = ["Candidate", "build_candidate", "make_classifier"]


@dataclass(frozen=True)
class Candidate:
    """An unfitted pipeline of one family and the grid to search over it."""

    family: ModelFamily
    pipeline: SentimentPipeline
    grid: dict[str, list[Any]]


def make_classifier(family: ModelFamily, seed: int) -> BaseEstimator:
    """The classifier of a family with sensible defaults (the grid overrides them)."""
    if family in ("logreg", "nb_logreg"):
        # liblinear: exact and fast on a few hundred thousand sparse features, deterministic.
        return LogisticRegression(C=4.0, solver="liblinear", max_iter=3000, random_state=seed)
    if family == "linear_svm":
        svm = LinearSVC(C=1.0, random_state=seed)
        # Platt scaling on internal folds turns SVM margins into probabilities.
        return CalibratedClassifierCV(estimator=svm, method="sigmoid", cv=3)
    if family == "random_forest":
        return RandomForestClassifier(n_estimators=150, n_jobs=1, random_state=seed)
    raise ConfigError(f"unknown model family {family!r}")


def build_candidate(
    family: ModelFamily, settings: Settings, *, memory: str | None = None
) -> Candidate:
    """The unfitted pipeline of ``family`` with the features and grid from the settings; raises
    ConfigError when ``training.candidates`` names a parameter no step has."""
    candidate_settings = settings.training.candidates.get(family, CandidateSettings())
    features = build_feature_pipeline(settings.preprocessing, candidate_settings.features)
    classifier = make_classifier(family, settings.training.seed)
    built = build_model_pipeline(features, classifier, memory=memory)
    pipeline = SentimentPipeline(built.steps, memory=built.memory)
    try:
        pipeline.set_params(**candidate_settings.params)
        for name in candidate_settings.grid:
            pipeline.get_params()[name]
    except (ValueError, KeyError) as error:
        raise ConfigError(
            f"training.candidates.{family}: {error}. Parameter names look like "
            "classifier__C or tfidf__min_df (step__parameter)."
        ) from None
    return Candidate(family, pipeline, {k: list(v) for k, v in candidate_settings.grid.items()})
