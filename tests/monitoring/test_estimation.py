"""Label-free accuracy estimation against cases with known answers, then on real reviews."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.errors import BadInputError
from sentimentops.monitoring.estimation import ScoreCalibrator, estimate_accuracy
from sentimentops.monitoring.results import AccuracyEstimate

Truth = Callable[[np.ndarray], np.ndarray]


def calibrated(scores: np.ndarray) -> np.ndarray:
    return scores


def flattened(scores: np.ndarray) -> np.ndarray:
    """An overconfident model: a score of 0.95 is right 77% of the time, not 95%."""
    return 0.5 + 0.6 * (scores - 0.5)


def draw(
    rng: np.random.Generator, rows: int, truth: Truth, *, a: float = 1.0, b: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ~ Beta(a, b) and labels with P(positive | score) = truth(score)."""
    scores = rng.beta(a, b, rows)
    positive = rng.random(rows) < truth(scores)
    return scores, np.where(positive, "positive", "negative")


def true_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((scores >= 0.5) == (labels == "positive")))


def summarise(estimates: list[AccuracyEstimate], truths: list[float]) -> tuple[float, float]:
    """Share of intervals that hold the true accuracy, and the mean absolute error."""
    covered = [e.lower <= t <= e.upper for e, t in zip(estimates, truths, strict=True)]
    errors = [abs(e.accuracy - t) for e, t in zip(estimates, truths, strict=True)]
    return float(np.mean(covered)), float(np.mean(errors))


def test_calibrated_scores_give_intervals_with_their_nominal_coverage() -> None:
    rng = np.random.default_rng(0)
    estimates, truths = [], []
    for _ in range(200):
        scores, labels = draw(rng, 1000, calibrated)
        estimates.append(estimate_accuracy(scores))
        truths.append(true_accuracy(scores, labels))

    coverage, mae = summarise(estimates, truths)

    # 200 windows: the coverage of a 95% interval has a standard error of 1.5 points.
    assert 0.90 <= coverage <= 0.99
    # Uniform scores: E[p(1 - p)] = 1/6, so the error's sd is sqrt(1/6 / 1000) = 0.0129 and its
    # expected absolute value 0.0129 * sqrt(2 / pi) = 0.0103, give or take 0.0006 over 200.
    assert mae < 0.0125


def test_the_interval_also_covers_the_calibration_learned_from_the_reference() -> None:
    # A reference as large as the window doubles the variance: an interval for the window
    # alone would cover only ~83% here.
    rng = np.random.default_rng(1)
    estimates, truths = [], []
    for _ in range(200):
        calibrator = ScoreCalibrator().fit(*draw(rng, 1000, calibrated))
        scores, labels = draw(rng, 1000, calibrated)
        estimates.append(estimate_accuracy(scores, calibrator))
        truths.append(true_accuracy(scores, labels))

    coverage, mae = summarise(estimates, truths)

    assert 0.90 <= coverage <= 0.99
    assert mae < 0.02  # sd ~ sqrt(2) * 0.0129 = 0.018, expected |error| ~ 0.015


def calibrated_on_reference(
    seed: int, reference: Truth, window: Truth, *, a: float = 0.5, b: float = 0.5
) -> tuple[np.ndarray, AccuracyEstimate, float]:
    """Calibrate on 5,000 arcsine-distributed reference scores whose labels follow
    ``reference``; then a window of 2,000 Beta(a, b) scores whose labels follow ``window``.
    Returns the window's scores, its calibrated estimate and its true accuracy."""
    rng = np.random.default_rng(seed)
    calibrator = ScoreCalibrator().fit(*draw(rng, 5000, reference, a=0.5, b=0.5))
    assert calibrator.method == "isotonic"
    scores, labels = draw(rng, 2000, window, a=a, b=b)
    return scores, estimate_accuracy(scores, calibrator), true_accuracy(scores, labels)


def test_calibration_removes_the_bias_of_an_overconfident_model() -> None:
    scores, fixed, truth = calibrated_on_reference(2, flattened, flattened)

    raw = estimate_accuracy(scores)

    # Arcsine-distributed scores: E|s - 0.5| = 1/pi, so the raw estimate is 0.4/pi = 0.13 high.
    assert raw.accuracy - truth > 0.1
    assert raw.lower > truth
    assert abs(fixed.accuracy - truth) < 0.03
    assert fixed.lower <= truth <= fixed.upper


def test_the_estimate_follows_covariate_shift() -> None:
    # The window's reviews are mostly confidently positive, unlike the reference, but a score
    # still means what it meant: P(y | score) is unchanged.
    _, estimate, truth = calibrated_on_reference(3, flattened, flattened, a=4.0, b=1.0)

    assert abs(estimate.accuracy - truth) < 0.03
    assert estimate.lower <= truth <= estimate.upper


def test_the_estimate_misses_concept_shift() -> None:
    # The assumption's limit, and why measured accuracy replaces the estimate when labels come:
    # the same scores now mean less, and nothing in the scores shows it.
    _, estimate, truth = calibrated_on_reference(4, calibrated, flattened)

    assert estimate.lower > truth + 0.05


def test_a_hand_computed_window_with_raw_scores() -> None:
    estimate = estimate_accuracy([0.9, 0.2, 0.6, 0.5], confidence_level=0.95)

    # Predicted positive, negative, positive, positive (0.5 >= threshold): right with
    # probabilities 0.9, 0.8, 0.6, 0.5.
    p = np.array([0.9, 0.8, 0.6, 0.5])
    half_width = 1.959964 * math.sqrt(np.sum(p * (1 - p))) / 4
    assert estimate.accuracy == pytest.approx(0.7)
    assert estimate.lower == pytest.approx(0.7 - half_width, abs=1e-6)
    assert estimate.upper == 1.0  # 0.7 + 0.42 clipped
    assert (estimate.rows, estimate.confidence_level) == (4, 0.95)


def test_a_hand_computed_window_with_a_calibration() -> None:
    # Two blocks of 100 reference rows: all scores 0 were 25% positive, all scores 1 75%.
    calibrator = ScoreCalibrator(min_rows=200).fit(
        [0.0] * 100 + [1.0] * 100,
        ["positive"] * 25 + ["negative"] * 75 + ["positive"] * 75 + ["negative"] * 25,
    )
    np.testing.assert_array_equal(calibrator.calibrated_, [0.25, 0.75])
    np.testing.assert_array_equal(calibrator.block_rows_, [100, 100])

    estimate = estimate_accuracy([0.0] * 50 + [1.0] * 50, calibrator, threshold=0.5)

    # Every row is right with probability 0.75. Window variance: 100 * 0.75 * 0.25 / 100^2.
    # Each level's posterior: q = 26/102 (or 76/102), variance q (1 - q) / 103, and half the
    # window depends on it (weight 1/2).
    q = 26 / 102
    variance = 100 * 0.75 * 0.25 / 100**2 + 2 * 0.5**2 * q * (1 - q) / 103
    half_width = 1.959964 * math.sqrt(variance)
    assert estimate.accuracy == pytest.approx(0.75)
    assert estimate.lower == pytest.approx(0.75 - half_width, abs=1e-6)
    assert estimate.upper == pytest.approx(0.75 + half_width, abs=1e-6)


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(BadInputError, match="empty window"):
        estimate_accuracy([])


@pytest.mark.parametrize(
    ("rows", "positive_share"),
    [(199, 0.5), (1000, 1.0), (1000, 0.0)],
    ids=["too-few-rows", "only-positive", "only-negative"],
)
def test_the_calibrator_keeps_the_identity_without_enough_evidence(
    rows: int, positive_share: float
) -> None:
    rng = np.random.default_rng(5)
    scores = rng.random(rows)
    labels = np.where(np.arange(rows) < positive_share * rows, "positive", "negative")

    calibrator = ScoreCalibrator().fit(scores, labels)

    assert calibrator.method == "identity"
    np.testing.assert_allclose(calibrator.transform(scores), scores)
    assert calibrator.calibration_variance(scores, np.ones(rows)) == 0.0


def test_unlabelled_reference_rows_do_not_count() -> None:
    rng = np.random.default_rng(6)
    scores, labels = draw(rng, 300, calibrated)
    labels = labels.astype(object)
    labels[:150] = None

    calibrator = ScoreCalibrator().fit(scores, labels)

    assert (calibrator.rows_, calibrator.method) == (150, "identity")


def test_the_isotonic_blocks_account_for_every_reference_row() -> None:
    rng = np.random.default_rng(7)
    calibrator = ScoreCalibrator().fit(*draw(rng, 3000, flattened))

    starts = np.r_[True, np.diff(calibrator.calibrated_) != 0]
    assert calibrator.block_rows_[starts].sum() == 3000
    assert np.all(np.diff(calibrator.transform(np.linspace(0, 1, 101))) >= 0)


def test_calibrated_estimates_match_real_accuracy_on_held_out_reviews(
    reference_reviews: pd.DataFrame, model_folder: Path
) -> None:
    from sentimentops.tracking.flavor import load_pipeline

    pipeline = load_pipeline(str(model_folder))
    trained_on = reference_reviews.sample(3000, random_state=2)  # as the fixture did
    test = reference_reviews[reference_reviews["split"] == "test"]
    unseen = test[~test["review"].isin(trained_on["review"])].sample(6000, random_state=11)
    reference, windows = unseen.iloc[:2000], unseen.iloc[2000:]
    calibrator = ScoreCalibrator().fit(
        pipeline.positive_scores(reference["review"].tolist()), reference["sentiment"]
    )

    for start in range(0, len(windows), 1000):
        window = windows.iloc[start : start + 1000]
        scores = pipeline.positive_scores(window["review"].tolist())
        truth = true_accuracy(scores, window["sentiment"].to_numpy())

        estimate = estimate_accuracy(scores, calibrator)

        assert abs(estimate.accuracy - truth) < 0.03
