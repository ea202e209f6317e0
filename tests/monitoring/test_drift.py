"""When the domain classifier can measure text drift, checked against Evidently itself."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

from sentimentops.monitoring.drift import MIN_TEXT_DRIFT_ROWS, text_drift_measurable


def _evidently_text_drift_auc(texts: pd.Series, reference_rows: int, current_rows: int) -> float:
    """Evidently's domain-classifier AUC on those rows; NaN when it cannot be computed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's imports and an undefined AUC warn
        from evidently.legacy.utils.data_drift_utils import calculate_text_drift_score

        reference = texts.iloc[:reference_rows]
        current = texts.iloc[reference_rows : reference_rows + current_rows]
        try:
            auc, _ = calculate_text_drift_score(reference, current, bootstrap=False)
        except ValueError:  # the fit saw one class: a side missed the training half
            return math.nan
    return float(auc)


@pytest.mark.parametrize(
    ("reference_rows", "current_rows"),
    [
        (MIN_TEXT_DRIFT_ROWS, MIN_TEXT_DRIFT_ROWS),
        (2000, MIN_TEXT_DRIFT_ROWS),
        (MIN_TEXT_DRIFT_ROWS, 2000),
    ],
)
def test_evidently_measures_text_drift_from_the_minimum_rows_on(
    held_out: pd.DataFrame, reference_rows: int, current_rows: int
) -> None:
    auc = _evidently_text_drift_auc(held_out["review"], reference_rows, current_rows)

    assert text_drift_measurable(reference_rows, current_rows)
    assert 0.0 <= auc <= 1.0


def test_one_row_on_a_side_breaks_evidently_and_is_not_measurable(held_out: pd.DataFrame) -> None:
    assert math.isnan(_evidently_text_drift_auc(held_out["review"], 2000, 1))
    assert not text_drift_measurable(2000, 1)
    assert not text_drift_measurable(1, 2000)
    assert not text_drift_measurable(MIN_TEXT_DRIFT_ROWS - 1, 5000)
