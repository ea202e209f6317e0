"""Evaluation of a sentiment model: metrics, intervals, calibration, slices, errors. Pure
functions: ``y`` is 1 for positive and 0 for negative, ``scores`` probabilities of positive."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom, norm
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from sentimentops.models.sentiment import DECISION_THRESHOLD

__all__ = [
    "LENGTH_BINS",
    "McNemarResult",
    "accuracy_interval",
    "classification_metrics",
    "expected_calibration_error",
    "mcnemar_test",
    "metrics_by_length",
    "to_binary",
    "worst_errors",
]

POSITIVE = "positive"
# Review length slices in words: short reviews carry less evidence and are harder.
LENGTH_BINS = (0, 100, 200, 400, 800, math.inf)


def to_binary(labels: pd.Series | np.ndarray | list[str]) -> np.ndarray:
    """``positive`` -> 1, anything else -> 0."""
    return np.asarray(np.asarray(labels) == POSITIVE, dtype=int)


def expected_calibration_error(y: np.ndarray, scores: np.ndarray, bins: int = 15) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by
    bin size (Guo et al., 2017), on the probability of the predicted class."""
    predicted = (scores >= DECISION_THRESHOLD).astype(int)
    confidence = np.where(predicted == 1, scores, 1 - scores)
    correct = (predicted == y).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def accuracy_interval(correct: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (well behaved near 0 and 1, unlike Wald)."""
    if total == 0:
        return (0.0, 1.0)
    z = float(norm.ppf(0.5 + level / 2))
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (centre - half, centre + half)


def classification_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy (with a 95% interval), precision, recall, F1, ROC AUC, log loss, Brier, ECE."""
    predicted = (scores >= DECISION_THRESHOLD).astype(int)
    correct = int((predicted == y).sum())
    low, high = accuracy_interval(correct, len(y))
    both_classes = len(np.unique(y)) == 2
    clipped = np.clip(scores, 1e-15, 1 - 1e-15)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, scores)) if both_classes else float("nan"),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(y, scores)),
        "ece": expected_calibration_error(y, scores),
        "n": float(len(y)),
    }


def metrics_by_length(texts: pd.Series, y: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Accuracy and F1 per review-length slice (words)."""
    words = texts.str.count(r"\S+").to_numpy()
    labels = [
        f"{int(lo)}-{int(hi) - 1}" if hi != math.inf else f"{int(lo)}+"
        for lo, hi in itertools.pairwise(LENGTH_BINS)
    ]
    slice_of = pd.cut(words, bins=list(LENGTH_BINS), right=False, labels=labels)
    rows = []
    for label in labels:
        mask = np.asarray(slice_of == label)
        if not mask.any():
            continue
        predicted = (scores[mask] >= DECISION_THRESHOLD).astype(int)
        rows.append(
            {
                "words": label,
                "n": int(mask.sum()),
                "accuracy": float((predicted == y[mask]).mean()),
                "f1": float(f1_score(y[mask], predicted, zero_division=0)),
            }
        )
    return pd.DataFrame(rows)


def worst_errors(texts: pd.Series, y: np.ndarray, scores: np.ndarray, n: int = 20) -> pd.DataFrame:
    """The ``n`` most confident wrong predictions, with their text (first 300 characters)."""
    predicted = (scores >= DECISION_THRESHOLD).astype(int)
    wrong = np.flatnonzero(predicted != y)
    confidence = np.abs(scores[wrong] - DECISION_THRESHOLD)
    worst = wrong[np.argsort(-confidence, kind="stable")[:n]]
    return pd.DataFrame(
        {
            "true": np.where(y[worst] == 1, "positive", "negative"),
            "score": scores[worst],
            "text": texts.iloc[worst].str.slice(0, 300).to_numpy(),
        }
    )


@dataclass(frozen=True)
class McNemarResult:
    """Paired comparison of two classifiers on the same rows."""

    only_new_right: int
    only_old_right: int
    p_value: float


def mcnemar_test(y: np.ndarray, new: np.ndarray, old: np.ndarray) -> McNemarResult:
    """Exact two-sided McNemar test: under "no difference" each row where exactly one model is
    right favours either with probability 1/2."""
    new_right, old_right = new == y, old == y
    b = int((new_right & ~old_right).sum())
    c = int((~new_right & old_right).sum())
    discordant = b + c
    if discordant == 0:
        return McNemarResult(b, c, 1.0)
    p_value = min(1.0, 2 * float(binom.cdf(min(b, c), discordant, 0.5)))
    return McNemarResult(b, c, p_value)
