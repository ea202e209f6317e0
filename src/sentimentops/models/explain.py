"""Which n-grams drive a model: signed weights of linear models, importances of forests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentimentops.models.sentiment import SentimentPipeline

__all__ = ["explain_rows", "feature_weights", "row_contributions", "top_ngrams"]


def feature_weights(model: SentimentPipeline) -> pd.Series:
    """Weight per n-gram towards ``positive`` (times the NB ratio with NB weighting, as the
    classifier sees scaled features); a random forest's unsigned importances."""
    names = model.named_steps["tfidf"].get_feature_names_out()
    classifier = model.named_steps["classifier"]
    if hasattr(classifier, "coef_"):
        weights = np.asarray(classifier.coef_).ravel()
    elif hasattr(classifier, "calibrated_classifiers_"):  # calibrated linear SVM
        weights = np.mean(
            [np.ravel(c.estimator.coef_) for c in classifier.calibrated_classifiers_], axis=0
        )
    else:
        weights = np.asarray(classifier.feature_importances_)
    if "nb" in model.named_steps:
        weights = weights * model.named_steps["nb"].r_
    if list(model.classes_).index("positive") == 0:  # coefficients point to classes_[1]
        weights = -weights
    return pd.Series(weights, index=names)


def top_ngrams(model: SentimentPipeline, n: int = 25) -> dict[str, list[tuple[str, float]]]:
    """The ``n`` n-grams pushing hardest towards positive and towards negative."""
    weights = feature_weights(model).sort_values()
    return {
        "positive": [(str(k), float(v)) for k, v in weights.iloc[::-1][:n].items()],
        "negative": [(str(k), float(v)) for k, v in weights.iloc[:n].items()],
    }


def row_contributions(
    model: SentimentPipeline, texts: list[str], n: int = 5, weights: pd.Series | None = None
) -> list[list[tuple[str, float]]]:
    """Per review, the ``n`` n-grams contributing most (TF-IDF value times weight), largest
    first; pass ``weights`` (:func:`feature_weights`) to reuse them across calls."""
    if weights is None:
        weights = feature_weights(model)
    names = weights.index.to_numpy()
    features = model[: list(model.named_steps).index("tfidf") + 1].transform(texts).tocsr()
    contributions = features.multiply(weights.to_numpy()).tocsr()
    explanations = []
    for row in range(contributions.shape[0]):
        start, end = contributions.indptr[row], contributions.indptr[row + 1]
        values, columns = contributions.data[start:end], contributions.indices[start:end]
        top = np.argsort(-np.abs(values), kind="stable")[:n]
        explanations.append([(str(names[columns[i]]), float(values[i])) for i in top])
    return explanations


def explain_rows(model: SentimentPipeline, texts: list[str], n: int = 5) -> list[str]:
    """:func:`row_contributions` as one string per review: ``ngram:+0.123; ...``."""
    return [
        "; ".join(f"{ngram}:{value:+.3f}" for ngram, value in row)
        for row in row_contributions(model, texts, n)
    ]
