"""A monitoring run's numbers as Evidently metrics, so that a run becomes a workspace snapshot
whose values the Evidently UI draws over time. Imports Evidently: import this module lazily.

Each metric reads its value from the one-row frame of the run's numbers (the snapshot's dataset):
a value held as a field would become a label, and split the series at every run.
"""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():
    # Evidently imports numpy.core, deprecated in NumPy 2; not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from evidently.core.datasets import Dataset
    from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric

__all__ = ["RunValue", "VersionValue"]


class RunValue(SingleValueMetric):  # type: ignore[misc]
    """A number of the run as a whole (the latest value, an alert limit): ``measure`` names
    the column of the run's frame that holds it."""

    measure: str

    def _default_tests(self, context: Any) -> list[Any]:
        return []

    def _default_tests_with_reference(self, context: Any) -> list[Any]:
        return []


class VersionValue(RunValue):
    """A measurement labelled with the model version that made the predictions: the UI draws
    one line per version, so the version of every point shows (and where the champion changed)."""

    model_version: str


def _value(metric: RunValue, current: Dataset) -> float:
    return float(current.as_dataframe()[metric.measure].iloc[0])


class RunValueCalculation(SingleValueCalculation[RunValue]):  # type: ignore[misc]
    def calculate(self, context: Any, current_data: Dataset, reference_data: Any) -> Any:
        return self.result(_value(self.metric, current_data)), None

    def display_name(self) -> str:
        return str(self.metric.measure)


class VersionValueCalculation(SingleValueCalculation[VersionValue]):  # type: ignore[misc]
    def calculate(self, context: Any, current_data: Dataset, reference_data: Any) -> Any:
        return self.result(_value(self.metric, current_data)), None

    def display_name(self) -> str:
        return f"{self.metric.measure} (model version {self.metric.model_version})"
