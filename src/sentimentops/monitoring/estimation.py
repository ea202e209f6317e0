"""Accuracy without labels: confidence-based performance estimation (CBPE, as in NannyML).

**Why it works.** If ``c(s) = P(positive | score s)``, a review predicted positive is right with
probability ``c(s)`` and one predicted negative with probability ``1 - c(s)``, so the expected
accuracy of a window is the mean of these: no label needed. Raw model scores are rarely
calibrated (a logistic regression on TF-IDF is typically over- or under-confident), so
:class:`ScoreCalibrator` first learns ``c`` on held-out labelled reviews: the monitoring
reference sample.

**The assumption.** ``c`` is learned once and reused on every window. That is right as long as
``P(y | s)`` stays put: under covariate shift (other films, shorter or longer reviews) the
score distribution moves but each score still means what it meant, and the estimate follows the
accuracy. Under concept shift (words change sentiment, a new kind of review the model misreads
confidently) ``P(y | s)`` itself changes and the estimate is wrong without any sign of it. A
change in the share of positive reviews (label shift) also moves ``P(y | s)``, less visibly: on
real reviews, windows 80% negative were estimated up to 4 points too high. That is why
measured accuracy (:mod:`sentimentops.monitoring.performance`) replaces the estimate whenever
labels arrive, and why the estimate is a warning light, not a measurement.

**The interval** adds two independent variances and uses a normal approximation (fine for
windows of hundreds of rows), clipped to [0, 1]:

1. the window: given the calibrated probabilities ``p_i``, the number of correct rows is
   Poisson-binomial with variance ``sum p_i (1 - p_i)``;
2. the calibration: each isotonic block's level is a proportion over its ``n_b`` reference
   rows, with posterior variance ``q (1 - q) / (n_b + 3)``, ``q = (k_b + 1) / (n_b + 2)`` under
   a uniform prior (so a small all-positive block still counts as uncertain). The estimate is
   linear in the levels, so this adds ``sum_b g_b^2 var_b``, ``g_b`` being the estimate's
   sensitivity to block ``b``.

The blocks are chosen from the same reference rows, which this treats as fixed: isotonic steps
fitted on a small reference are slightly too confident (on 1,000 synthetic reference rows the
estimate reads about half a point high), which the interval does not cover. The identity
calibration (too few reference rows) contributes nothing: then the interval only covers the
sampling of the current window and trusts the raw scores as they are.
"""

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
METHODS = ("isotonic", "identity")


class ScoreCalibrator(BaseEstimator):  # type: ignore[misc]
    """Monotone map from the model's score to ``P(positive | score)``, fitted on labelled reviews.

    Isotonic regression: the most flexible monotone map, so it never reverses the model's
    ranking. With fewer than ``min_rows`` labelled rows, or one class only, the fit keeps the
    identity (the raw scores) instead, and ``method_`` records which map is in use.

    Attributes (after :meth:`fit`):
        method_: ``"isotonic"`` or ``"identity"``.
        thresholds_: increasing scores where the map is known; linear between them, constant
            outside them.
        calibrated_: the calibrated probability at each threshold.
        block_rows_: reference rows pooled into each threshold's isotonic block (0: identity).
        rows_: labelled rows the map was fitted on.
    """

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
        """Learn the map from scores and their true labels; rows without a label are ignored.

        Raises:
            BadInputError: lengths differ, a score is not a probability, or a label is unknown.
        """
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
            self._use_identity()
            return self
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(values, truth)
        # Every reference row's fitted value is exactly its block's level (a threshold value or
        # an interpolation between two equal ones), so counting the values counts the blocks.
        levels, counts = np.unique(isotonic.predict(values), return_counts=True)
        self.thresholds_ = np.asarray(isotonic.X_thresholds_, dtype=float)
        self.calibrated_ = np.asarray(isotonic.y_thresholds_, dtype=float)
        self.block_rows_ = counts[np.searchsorted(levels, self.calibrated_)]
        self.method_ = "isotonic"
        return self

    def _use_identity(self) -> None:
        self.thresholds_ = np.array([0.0, 1.0])
        self.calibrated_ = np.array([0.0, 1.0])
        self.block_rows_ = np.array([0, 0])
        self.method_ = "identity"

    def transform(self, scores: ArrayLike) -> np.ndarray:
        """Calibrated probabilities of ``positive`` for ``scores``.

        Raises:
            BadInputError: a score is not a probability.
        """
        check_is_fitted(self)
        return np.interp(as_scores(scores), self.thresholds_, self.calibrated_)

    def calibration_variance(self, scores: ArrayLike, weights: ArrayLike) -> float:
        """Variance of ``sum(weights * transform(scores))`` that comes from fitting the map on a
        finite reference sample (see the module docstring); 0 for the identity."""
        check_is_fitted(self)
        if self.method_ == "identity":
            return 0.0
        values = as_scores(scores)
        weight = np.asarray(weights, dtype=float)
        if weight.shape != values.shape:
            raise BadInputError(f"{len(values)} scores need as many weights; got {weight.shape}")
        x = self.thresholds_
        # The transform is linear in the threshold values: its derivative with respect to each
        # is the share of interpolation it gets (1 at and beyond the outer thresholds).
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
    """Expected accuracy of the model on a window of scores, with its interval; no labels.

    Args:
        scores: the model's probabilities of ``positive`` on the window.
        calibrator: the map fitted on the reference sample; None trusts the raw scores.
        confidence_level: of the interval (``monitoring.confidence_level``).
        threshold: the score from which the model predicts ``positive``.

    Raises:
        BadInputError: no scores, a score that is not a probability, or a level or threshold
            outside its range.
    """
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
