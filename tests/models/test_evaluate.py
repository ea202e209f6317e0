"""Evaluation maths against cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentimentops.models.evaluate import (
    accuracy_interval,
    classification_metrics,
    expected_calibration_error,
    mcnemar_test,
    metrics_by_length,
    to_binary,
    worst_errors,
)


def test_perfectly_calibrated_scores_have_zero_ece() -> None:
    # 10 rows at 0.8: 8 positive. 10 rows at 0.3 (confidence 0.7 in negative): 7 negative.
    y = np.array([1] * 8 + [0] * 2 + [0] * 7 + [1] * 3)
    scores = np.array([0.8] * 10 + [0.3] * 10)

    assert expected_calibration_error(y, scores) == pytest.approx(0.0)


def test_overconfident_scores_have_the_expected_ece() -> None:
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.99, 0.99, 0.99, 0.99])  # 99% sure, right half the time

    assert expected_calibration_error(y, scores) == pytest.approx(0.49)


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = accuracy_interval(81, 100)

    # Wilson 95% interval for 81/100 (Newcombe 1998): 0.7222 to 0.8749
    assert low == pytest.approx(0.7222, abs=1e-4)
    assert high == pytest.approx(0.8749, abs=1e-4)


def test_mcnemar_exact_p_value() -> None:
    y = np.ones(20, dtype=int)
    new = np.ones(20, dtype=int)
    old = np.ones(20, dtype=int)
    old[:6] = 0  # 6 rows only the new model gets right
    new[6:7] = 0  # 1 row only the old model gets right

    result = mcnemar_test(y, new, old)

    assert (result.only_new_right, result.only_old_right) == (6, 1)
    assert result.p_value == pytest.approx(2 * 8 / 128)  # P(X <= 1 | n=7, p=1/2) = 8/128


def test_identical_models_have_p_value_one() -> None:
    y = np.array([0, 1, 1])
    assert mcnemar_test(y, y, y).p_value == 1.0


def test_classification_metrics_on_a_small_case() -> None:
    y = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.4, 0.2, 0.6])

    metrics = classification_metrics(y, scores)

    assert metrics["accuracy"] == 0.5
    assert metrics["precision"] == 0.5
    assert metrics["recall"] == 0.5
    assert metrics["roc_auc"] == 0.75
    assert metrics["brier"] == pytest.approx((0.01 + 0.36 + 0.04 + 0.36) / 4)
    assert metrics["accuracy_ci_low"] < 0.5 < metrics["accuracy_ci_high"]


def test_slices_and_worst_errors() -> None:
    texts = pd.Series(["good " * 50, "bad " * 150, "fine " * 500, "meh " * 900])
    y = to_binary(["positive", "negative", "positive", "negative"])
    scores = np.array([0.9, 0.95, 0.6, 0.2])

    slices = metrics_by_length(texts, y, scores)
    errors = worst_errors(texts, y, scores, n=5)

    assert slices["words"].tolist() == ["0-99", "100-199", "400-799", "800+"]
    assert slices["accuracy"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert errors["true"].tolist() == ["negative"]
    assert errors["score"].tolist() == [0.95]
