"""Drift between reference and current reviews by Evidently (imported here only, when a report
runs): the text (a domain classifier's ROC AUC above ``text_drift_auc``), the descriptors and the
score (Kolmogorov-Smirnov) and the label share (chi-square), drifted below ``drift_p_value``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from sentimentops.config import MonitoringSettings
from sentimentops.monitoring.descriptors import DESCRIPTORS
from sentimentops.monitoring.results import DriftResult

__all__ = ["MIN_TEXT_DRIFT_ROWS", "DriftComparison", "compare_drift", "text_drift_measurable"]

TEXT_METHOD = "abs_text_content_drift"  # domain classifier, drift when ROC AUC > threshold
MIN_TEXT_DRIFT_ROWS: Final = 30  # on each side (text_drift_measurable)


@dataclass(frozen=True)
class DriftComparison:
    """The drift of the text, of each descriptor and of the predictions (score, label)."""

    text: DriftResult | None  # None without texts, or too few rows (text_drift_measurable)
    descriptors: list[DriftResult]
    predictions: list[DriftResult]


def text_drift_measurable(reference_rows: int, current_rows: int) -> bool:
    """Whether the domain classifier can run: it trains on a random half of the pooled rows and
    scores the other, so each side needs rows in both halves (30 miss one: 1 in 500 million)."""
    return min(reference_rows, current_rows) >= MIN_TEXT_DRIFT_ROWS


def compare_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    text_column: str | None,
    settings: MonitoringSettings,
    html_path: Path | None = None,
) -> DriftComparison:
    """Compare ``current`` with ``reference``, both holding ``label``, ``score`` and, unless
    ``text_column`` is None, the text and descriptors; Evidently's HTML goes to ``html_path``.
    The text test is left out (``text`` None) when :func:`text_drift_measurable` says so."""
    with warnings.catch_warnings():
        # Evidently imports numpy.core, deprecated in NumPy 2; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        from evidently.core.datasets import DataDefinition, Dataset
        from evidently.core.report import Report
        from evidently.metrics.column_statistics import ValueDrift

    texts = [text_column] if text_column else []
    described = list(DESCRIPTORS) if text_column else []
    columns = [*texts, *described, "label", "score"]
    definition = DataDefinition(
        text_columns=texts, numerical_columns=[*described, "score"], categorical_columns=["label"]
    )
    p_value = settings.drift_p_value
    measurable = text_column and text_drift_measurable(len(reference), len(current))
    tested_text = text_column if measurable else None
    tests = [(tested_text, TEXT_METHOD, settings.text_drift_auc)] if tested_text else []
    tests += [(name, "ks", p_value) for name in (*described, "score")]
    tests += [("label", "chisquare", p_value)]
    report = Report(
        [ValueDrift(column=name, method=method, threshold=limit) for name, method, limit in tests]
    )
    with warnings.catch_warnings():
        # Evidently's internals warn about pandas and sklearn: not ours, and fatal under -W error.
        warnings.simplefilter("ignore")
        current_data, reference_data = (
            Dataset.from_pandas(frame[columns].reset_index(drop=True), data_definition=definition)
            for frame in (current, reference)
        )
        snapshot = report.run(current_data, reference_data)
        if html_path is not None:
            html_path.parent.mkdir(parents=True, exist_ok=True)
            snapshot.save_html(str(html_path))
    values = [float(metric["value"]) for metric in snapshot.dict()["metrics"]]
    results = [
        DriftResult(
            column=name,
            method=method,
            score=value,
            threshold=limit,
            # The text test's score is a ROC AUC (higher: more drift); the others' a p-value.
            detected=value > limit if method == TEXT_METHOD else value < limit,
        )
        for (name, method, limit), value in zip(tests, values, strict=True)
    ]
    text = results.pop(0) if tested_text else None
    return DriftComparison(text=text, descriptors=results[:-2], predictions=results[-2:])
