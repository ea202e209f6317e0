"""What a monitoring run measures: plain data, shared by the measuring and the alerting code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AccuracyEstimate", "Alert", "DriftResult", "MonitoringMetrics"]


@dataclass(frozen=True)
class DriftResult:
    """One distribution compared between reference and current data."""

    column: str  # "review", "length", "label", "score", ...
    method: str  # the statistical test or the domain classifier
    score: float  # the test's statistic or p-value, as ``method`` defines it
    threshold: float
    detected: bool


@dataclass(frozen=True)
class AccuracyEstimate:
    """Accuracy expected from calibrated confidences, with its interval (no labels needed)."""

    accuracy: float
    lower: float
    upper: float
    confidence_level: float
    rows: int


@dataclass(frozen=True)
class MonitoringMetrics:
    """Everything one run measured; None where it could not be measured (no labels, ...)."""

    rows: int  # in the current data, before sampling
    reference_rows: int
    text_drift: DriftResult | None = None
    descriptor_drift: list[DriftResult] = field(default_factory=list)
    prediction_drift: list[DriftResult] = field(default_factory=list)
    labelled_rows: int | None = None  # rows with a true label (in the sample)
    accuracy: float | None = None  # with labels
    f1: float | None = None
    roc_auc: float | None = None
    estimated_accuracy: AccuracyEstimate | None = None
    reference_accuracy: float | None = None  # the model's own test accuracy
    reject_rate: float | None = None  # batch outputs: rejected / rows in

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Alert:
    """A threshold crossed: what, the value seen, the limit, and a sentence for a person."""

    kind: str  # text_drift, descriptor_drift, prediction_drift, accuracy, estimated_accuracy,
    # reject_rate, volume
    value: float
    limit: float
    message: str
