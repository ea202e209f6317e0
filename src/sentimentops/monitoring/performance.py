"""Classification performance on the rows whose true label has arrived (labels in any spelling
``data validate`` accepts, missing as None/NaN/``pd.NA``; scores are P(positive))."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import f1_score, roc_auc_score

from sentimentops.data.validate import normalise_labels
from sentimentops.errors import BadInputError
from sentimentops.monitoring.results import CalibrationBin, ClassificationQuality, SliceAccuracy

__all__ = [
    "LENGTH_SLICES",
    "LabelValues",
    "as_scores",
    "binary_labels",
    "classification_performance",
    "classification_quality",
]

POSITIVE = "positive"
NEGATIVE = "negative"

LabelValues = pd.Series | np.ndarray | Sequence[str | None]

# Review lengths in words, [low, high): about a quarter of IMDB's reviews in each; long reviews
# mix praise and complaint, where a bag-of-n-grams model errs most.
LENGTH_SLICES: tuple[tuple[int, float], ...] = ((0, 100), (100, 175), (175, 300), (300, np.inf))
_CALIBRATION_BINS = 10


def binary_labels(labels: LabelValues, *, what: str = "labels") -> np.ndarray:
    """1.0 for ``positive``, 0.0 for ``negative`` (any accepted spelling), NaN for a missing
    label; BadInputError, naming the column ``what``, for any other value."""
    values = np.asarray(labels, dtype=object)
    if values.ndim != 1:
        raise BadInputError(f"{what} must be one-dimensional; got shape {values.shape}")
    values = normalise_labels(pd.Series(values, dtype=object)).to_numpy(dtype=object)
    missing = np.asarray(pd.isna(values), dtype=bool)
    present = values[~missing]
    positive = np.asarray(present == POSITIVE, dtype=bool)
    unknown = ~(positive | np.asarray(present == NEGATIVE, dtype=bool))
    if unknown.any():
        examples = sorted({repr(value) for value in present[unknown][:5]})
        raise BadInputError(
            f"{what} must be '{POSITIVE}' or '{NEGATIVE}' (also pos/neg or 1/0, any case; or "
            f"missing); {int(unknown.sum())} rows hold other values, such as "
            f"{', '.join(examples)}. Map them to these labels."
        )
    result = np.full(len(values), np.nan)
    result[~missing] = positive.astype(float)
    return result


def as_scores(scores: ArrayLike, *, what: str = "scores") -> NDArray[np.float64]:
    """The scores as a float array; BadInputError unless one-dimensional probabilities (an
    unscored review belongs with the rejects, not with the scores)."""
    try:
        values = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as error:
        raise BadInputError(f"{what} must be numbers (probabilities in [0, 1]): {error}") from error
    if values.ndim != 1:
        raise BadInputError(f"{what} must be one-dimensional; got shape {values.shape}")
    invalid = ~((values >= 0.0) & (values <= 1.0))  # NaN fails both comparisons
    if invalid.any():
        first = int(np.flatnonzero(invalid)[0])
        raise BadInputError(
            f"{what} must be probabilities in [0, 1]; {int(invalid.sum())} of {len(values)} are "
            f"not (the first, at row {first}, is {values[first]}). Drop unscored rows first."
        )
    return values


def classification_performance(
    labels: LabelValues, predicted_labels: LabelValues, scores: ArrayLike
) -> dict[str, float | None]:
    """``accuracy``, ``f1``, ``roc_auc`` (None when not measurable), ``rows`` and ``unlabelled``
    on the labelled rows. BadInputError for mismatched lengths, bad values, missing predictions."""
    truth = binary_labels(labels, what="true labels")
    predicted = binary_labels(predicted_labels, what="predicted labels")
    probabilities = as_scores(scores)
    if not len(truth) == len(predicted) == len(probabilities):
        raise BadInputError(
            f"labels, predicted labels and scores must have one value per row; got "
            f"{len(truth)}, {len(predicted)} and {len(probabilities)} values"
        )
    labelled = ~np.isnan(truth)
    if np.isnan(predicted[labelled]).any():
        raise BadInputError(
            f"{int(np.isnan(predicted[labelled]).sum())} labelled rows have no predicted label; "
            "every row needs the model's label"
        )
    rows = int(labelled.sum())
    result: dict[str, float | None] = dict.fromkeys(("accuracy", "f1", "roc_auc"))
    result |= {"rows": rows, "unlabelled": len(truth) - rows}
    if rows == 0:
        return result
    y = truth[labelled].astype(int)
    y_predicted = predicted[labelled].astype(int)
    result["accuracy"] = float((y == y_predicted).mean())
    result["f1"] = float(f1_score(y, y_predicted, zero_division=0.0))
    if len(np.unique(y)) == 2:
        result["roc_auc"] = float(roc_auc_score(y, probabilities[labelled]))
    return result


def classification_quality(
    labels: LabelValues,
    predicted_labels: LabelValues,
    scores: ArrayLike,
    texts: Sequence[str] | None,
) -> ClassificationQuality:
    """Confusion matrix, accuracy per :data:`LENGTH_SLICES` (with ``texts``) and calibration in
    ten bins, on the labelled rows. BadInputError as :func:`classification_performance`."""
    truth = binary_labels(labels, what="true labels")
    predicted = binary_labels(predicted_labels, what="predicted labels")
    probabilities = as_scores(scores)
    labelled = ~np.isnan(truth)
    y, y_predicted = truth[labelled] == 1, predicted[labelled] == 1
    probabilities = probabilities[labelled]
    correct = y == y_predicted
    by_length = []
    if texts is not None:
        words = np.array([len(str(text).split()) for text in texts], dtype=int)[labelled]
        for low, high in LENGTH_SLICES:
            inside = (words >= low) & (words < high)
            name = f"{low}+ words" if np.isinf(high) else f"{low}-{int(high) - 1} words"
            rows = int(inside.sum())
            accuracy = float(correct[inside].mean()) if rows else None
            by_length.append(SliceAccuracy(name, rows, accuracy))
    edges = np.linspace(0.0, 1.0, _CALIBRATION_BINS + 1)
    # The last bin is closed: a score of exactly 1.0 belongs to it.
    bins = np.clip(np.digitize(probabilities, edges) - 1, 0, _CALIBRATION_BINS - 1)
    calibration = [
        CalibrationBin(
            low=float(edges[index]),
            high=float(edges[index + 1]),
            rows=int((bins == index).sum()),
            mean_score=float(probabilities[bins == index].mean()),
            positive_share=float(y[bins == index].mean()),
        )
        for index in range(_CALIBRATION_BINS)
        if (bins == index).any()
    ]
    return ClassificationQuality(
        true_positive=int((y & y_predicted).sum()),
        false_positive=int((~y & y_predicted).sum()),
        true_negative=int((~y & ~y_predicted).sum()),
        false_negative=int((y & ~y_predicted).sum()),
        by_length=by_length,
        calibration=calibration,
    )
