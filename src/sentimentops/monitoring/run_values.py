"""A monitoring run's numbers as Evidently metrics for workspace snapshots (imports Evidently:
import lazily). Values come from a column of the run's one-row frame: a value held as a field
would become a label and split the series at every run."""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():
    # Evidently imports numpy.core, deprecated in NumPy 2; not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from evidently.core.datasets import Dataset
    from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric

__all__ = ["AlertLimit", "LatestValue", "PanelValue", "RunValue"]


class RunValue(SingleValueMetric):  # type: ignore[misc]
    """A number of the run: ``column`` of the run's frame."""

    column: str

    def _default_tests(self, context: Any) -> list[Any]:
        return []

    def _default_tests_with_reference(self, context: Any) -> list[Any]:
        return []


class LatestValue(RunValue):
    """A number for the latest-run counters, shown as ``label``."""

    label: str


class PanelValue(RunValue):
    """A point of ``panel``'s lines, labelled by model version (one line per version)."""

    panel: str
    model_version: str


class AlertLimit(RunValue):
    """The alert limit ``panel`` is judged against, as it was set for this run."""

    panel: str


class RunValueCalculation(SingleValueCalculation[RunValue]):  # type: ignore[misc]
    """Every RunValue kind is calculated alike: the value of its column."""

    def calculate(self, context: Any, current_data: Dataset, reference_data: Any) -> Any:
        value = float(current_data.as_dataframe()[self.metric.column].iloc[0])
        return self.result(value), None

    def display_name(self) -> str:
        return str(getattr(self.metric, "label", self.metric.column))
