"""What a monitoring run measures: plain data, shared by the measuring and the alerting code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "AccuracyEstimate",
    "Alert",
    "CalibrationBin",
    "ClassificationQuality",
    "DriftResult",
    "MonitoringMetrics",
    "SliceAccuracy",
]


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
class SliceAccuracy:
    """Accuracy on the labelled reviews of one length range (in words)."""

    name: str  # "under 100 words", ...
    rows: int
    accuracy: float | None  # None without rows


@dataclass(frozen=True)
class CalibrationBin:
    """Reviews whose score fell in [low, high): their mean score and their true positive share."""

    low: float
    high: float
    rows: int
    mean_score: float
    positive_share: float


@dataclass(frozen=True)
class ClassificationQuality:
    """Where the errors are, on the labelled rows: the confusion matrix (``positive`` is the
    positive class), accuracy by review length, and how well scores match outcomes."""

    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    by_length: list[SliceAccuracy] = field(default_factory=list)
    calibration: list[CalibrationBin] = field(default_factory=list)


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
    quality: ClassificationQuality | None = None  # with enough labels

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
