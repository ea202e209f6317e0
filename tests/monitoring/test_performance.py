"""Labelled performance: hand-computed metrics, missing labels, and refused inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentimentops.errors import BadInputError
from sentimentops.monitoring.performance import (
    binary_labels,
    classification_performance,
    classification_quality,
)


def test_metrics_match_a_hand_computed_case_and_skip_the_unlabelled_row() -> None:
    labels = ["positive", "negative", "positive", None, "negative"]
    predicted = ["positive", "positive", "positive", "negative", "negative"]
    scores = [0.9, 0.6, 0.4, 0.2, 0.1]

    result = classification_performance(labels, predicted, scores)

    # Labelled rows: truth 1 0 1 0, predicted 1 1 1 0: 3 of 4 right, TP 2, FP 1, FN 0.
    # ROC AUC: positives (0.9, 0.4) against negatives (0.6, 0.1) win 3 of 4 pairs.
    assert result == {
        "accuracy": pytest.approx(0.75),
        "f1": pytest.approx(0.8),  # precision 2/3, recall 1
        "roc_auc": pytest.approx(0.75),
        "rows": 4,
        "unlabelled": 1,
    }


def test_roc_auc_is_none_when_one_class_is_labelled() -> None:
    result = classification_performance(
        ["positive", "positive", None], ["positive", "negative", "positive"], [0.8, 0.3, 0.7]
    )

    assert result["roc_auc"] is None
    assert result["accuracy"] == pytest.approx(0.5)
    assert (result["rows"], result["unlabelled"]) == (2, 1)


def test_no_labelled_row_gives_no_metric() -> None:
    labels = pd.Series([None, np.nan, pd.NA], dtype=object)

    result = classification_performance(labels, ["positive"] * 3, [0.9, 0.8, 0.7])

    assert result == {"accuracy": None, "f1": None, "roc_auc": None, "rows": 0, "unlabelled": 3}


def test_pandas_string_labels_with_missing_values_are_read() -> None:
    labels = pd.Series(["positive", pd.NA, "negative"], dtype="string")

    np.testing.assert_array_equal(binary_labels(labels), [1.0, np.nan, 0.0])


def test_an_unknown_label_is_refused_with_the_value() -> None:
    with pytest.raises(BadInputError, match=r"'good'"):
        classification_performance(["good", "negative"], ["positive", "negative"], [0.9, 0.1])


def test_labels_are_read_in_every_spelling_data_validation_accepts() -> None:
    """One rule with ``data validate``: a file it accepts is not refused by monitoring."""
    labels = pd.Series(["POS", "neg", 1, "0", " Positive ", 0.0, None], dtype=object)

    np.testing.assert_array_equal(binary_labels(labels), [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, np.nan])


def test_inputs_of_different_lengths_are_refused() -> None:
    with pytest.raises(BadInputError, match="one value per row"):
        classification_performance(["positive"], ["positive", "negative"], [0.9, 0.1])


def test_a_score_that_is_not_a_probability_is_refused() -> None:
    with pytest.raises(BadInputError, match="probabilities"):
        classification_performance(["positive", "negative"], ["positive"] * 2, [0.9, np.nan])


def test_a_labelled_row_without_prediction_is_refused() -> None:
    with pytest.raises(BadInputError, match="no predicted label"):
        classification_performance(["positive", "negative"], ["positive", None], [0.9, 0.1])


def test_quality_counts_the_matrix_slices_by_length_and_bins_scores() -> None:
    labels = ["positive", "positive", "negative", "negative", None]
    predicted = ["positive", "negative", "positive", "negative", "positive"]
    scores = [0.95, 0.35, 0.62, 0.05, 1.0]
    texts = ["good " * 10, "fine " * 120, "bad " * 200, "awful " * 400, "unlabelled"]

    quality = classification_quality(labels, predicted, scores, texts)

    matrix = (
        quality.true_positive,
        quality.false_negative,
        quality.false_positive,
        quality.true_negative,
    )
    assert matrix == (1, 1, 1, 1)
    assert [(piece.rows, piece.accuracy) for piece in quality.by_length] == [
        (1, 1.0),
        (1, 0.0),
        (1, 0.0),
        (1, 1.0),
    ]
    assert [(b.low, b.rows, b.positive_share) for b in quality.calibration] == [
        (0.0, 1, 0.0),
        (pytest.approx(0.3), 1, 1.0),
        (pytest.approx(0.6), 1, 0.0),
        (pytest.approx(0.9), 1, 1.0),
    ]
    assert classification_quality(labels, predicted, scores, None).by_length == []
