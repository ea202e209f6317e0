"""Accuracy without labels: confidence-based performance estimation (CBPE, as in NannyML) on
scores calibrated on the reference sample, with an interval. What it assumes and where it is
blind: docs/decisions.md, "Monitoring"."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from sentimentops.errors import BadInputError
from sentimentops.monitoring.performance import LabelValues, as_scores, binary_labels
from sentimentops.monitoring.results import AccuracyEstimate

__all__ = ["MIN_CALIBRATION_ROWS", "ScoreCalibrator", "estimate_accuracy"]

# Isotonic steps fitted on a few dozen rows follow noise; below this the raw scores are safer.
MIN_CALIBRATION_ROWS = 200


class ScoreCalibrator(BaseEstimator):  # type: ignore[misc]
    """Monotone map from score to ``P(positive | score)`` fitted on labelled reviews: isotonic,
    or the identity under ``min_rows`` rows or with one class."""

    method_: str
    thresholds_: NDArray[np.float64]
    calibrated_: NDArray[np.float64]
    block_rows_: np.ndarray
    rows_: int

    def __init__(self, *, min_rows: int = MIN_CALIBRATION_ROWS) -> None:
        self.min_rows = min_rows

    @property
    def method(self) -> str:
        """The map in use: ``"isotonic"`` or ``"identity"``."""
        check_is_fitted(self)
        return str(self.method_)

    def fit(self, scores: ArrayLike, labels: LabelValues) -> ScoreCalibrator:
        """Learn the map from scores and labels (unlabelled rows ignored); BadInputError for
        lengths that differ, a score that is no probability or an unknown label."""
        values = as_scores(scores)
        truth = binary_labels(labels)
        if len(values) != len(truth):
            raise BadInputError(
                f"calibration needs one label per score; got {len(values)} scores and "
                f"{len(truth)} labels"
            )
        labelled = ~np.isnan(truth)
        values, truth = values[labelled], truth[labelled]
        self.rows_ = len(values)
        if self.rows_ < self.min_rows or len(np.unique(truth)) < 2:
            self.thresholds_, self.calibrated_ = np.array([0.0, 1.0]), np.array([0.0, 1.0])
            self.block_rows_, self.method_ = np.array([0, 0]), "identity"
            return self
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(values, truth)
        # Each row's fitted value is exactly its block's level: counting values counts blocks.
        levels, counts = np.unique(isotonic.predict(values), return_counts=True)
        self.thresholds_ = np.asarray(isotonic.X_thresholds_, dtype=float)
        self.calibrated_ = np.asarray(isotonic.y_thresholds_, dtype=float)
        self.block_rows_ = counts[np.searchsorted(levels, self.calibrated_)]
        self.method_ = "isotonic"
        return self

    def transform(self, scores: ArrayLike) -> np.ndarray:
        """Calibrated probabilities of ``positive``; BadInputError for a score out of [0, 1]."""
        check_is_fitted(self)
        return np.interp(as_scores(scores), self.thresholds_, self.calibrated_)

    def calibration_variance(self, scores: ArrayLike, weights: ArrayLike) -> float:
        """The variance of ``sum(weights * transform(scores))`` from fitting the map on a finite
        reference sample; 0 for the identity."""
        check_is_fitted(self)
        if self.method_ == "identity":
            return 0.0
        values = as_scores(scores)
        weight = np.asarray(weights, dtype=float)
        if weight.shape != values.shape:
            raise BadInputError(f"{len(values)} scores need as many weights; got {weight.shape}")
        x = self.thresholds_
        # Linear in the threshold values: the derivative by each is its share of interpolation.
        if len(x) == 1:
            sensitivity = np.array([weight.sum()])
        else:
            left = np.clip(np.searchsorted(x, values, side="right") - 1, 0, len(x) - 2)
            share = np.clip((values - x[left]) / (x[left + 1] - x[left]), 0.0, 1.0)
            sensitivity = np.bincount(left, weight * (1 - share), minlength=len(x))
            sensitivity += np.bincount(left + 1, weight * share, minlength=len(x))
        # Consecutive thresholds with one value are the two ends of one block: one level.
        starts = np.r_[True, np.diff(self.calibrated_) != 0]
        block_sensitivity = np.bincount(np.cumsum(starts) - 1, sensitivity)
        rows = self.block_rows_[starts].astype(float)
        posterior = (self.calibrated_[starts] * rows + 1) / (rows + 2)
        level_variance = posterior * (1 - posterior) / (rows + 3)
        return float(np.sum(block_sensitivity**2 * level_variance))


def estimate_accuracy(
    scores: ArrayLike,
    calibrator: ScoreCalibrator | None = None,
    *,
    confidence_level: float = 0.95,
    threshold: float = 0.5,
) -> AccuracyEstimate:
    """The expected accuracy on a window of scores, with its interval, without labels;
    ``calibrator`` None trusts the raw scores, ``threshold`` is where ``positive`` starts.
    BadInputError for no scores, one not a probability, or a level or threshold out of range."""
    values = as_scores(scores)
    if len(values) == 0:
        raise BadInputError(
            "cannot estimate accuracy from an empty window: no scores were given. Check the "
            "window's time range or input file."
        )
    if not 0 < confidence_level < 1:
        raise BadInputError(f"confidence_level must be in (0, 1); got {confidence_level}")
    if not 0 <= threshold <= 1:
        raise BadInputError(f"threshold must be in [0, 1]; got {threshold}")
    rows = len(values)
    calibrated = values if calibrator is None else calibrator.transform(values)
    predicted_positive = values >= threshold
    p_correct = np.where(predicted_positive, calibrated, 1 - calibrated)
    accuracy = float(p_correct.mean())
    variance = float(np.sum(p_correct * (1 - p_correct))) / rows**2
    if calibrator is not None:
        # A predicted-negative row's correctness is 1 - c(s): it moves against the level.
        sign = np.where(predicted_positive, 1.0, -1.0)
        variance += calibrator.calibration_variance(values, sign / rows)
    half_width = float(norm.ppf(0.5 + confidence_level / 2)) * math.sqrt(variance)
    return AccuracyEstimate(
        accuracy=accuracy,
        lower=max(0.0, accuracy - half_width),
        upper=min(1.0, accuracy + half_width),
        confidence_level=confidence_level,
        rows=rows,
    )
