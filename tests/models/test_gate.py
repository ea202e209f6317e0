"""The promotion gate's decisions."""

from __future__ import annotations

import numpy as np

from sentimentops.models.gate import ModelScore, decide_promotion

Y = np.array([1, 0] * 500)


def predictions_with_errors(errors: int, offset: int = 0) -> np.ndarray:
    predicted = Y.copy()
    predicted[offset : offset + errors] = 1 - predicted[offset : offset + errors]
    return predicted


def decide(new: ModelScore, old: ModelScore | None) -> object:
    return decide_promotion(Y, new, old, significance_level=0.05, tolerance=0.002)


def test_first_model_is_promoted() -> None:
    decision = decide(ModelScore(predictions_with_errors(100), 1.0), None)

    assert decision.promote
    assert decision.reason == "no champion yet"


def test_significantly_better_challenger_is_promoted() -> None:
    decision = decide(
        ModelScore(predictions_with_errors(50), 1.0), ModelScore(predictions_with_errors(100), 1.0)
    )

    assert decision.promote
    assert "McNemar" in decision.reason
    assert decision.p_value < 0.05


def test_slightly_better_but_not_significant_is_kept() -> None:
    decision = decide(
        ModelScore(predictions_with_errors(98), 1.0), ModelScore(predictions_with_errors(100), 1.0)
    )

    assert not decision.promote
    assert "not significantly" in decision.reason


def test_as_accurate_and_much_faster_is_promoted() -> None:
    decision = decide(
        ModelScore(predictions_with_errors(101, offset=3), 0.5),
        ModelScore(predictions_with_errors(100), 1.0),
    )

    assert decision.promote
    assert "faster" in decision.reason


def test_identical_predictions_keep_the_champion() -> None:
    same = predictions_with_errors(100)

    decision = decide(ModelScore(same, 0.1), ModelScore(same.copy(), 1.0))

    assert not decision.promote
    assert decision.reason == "identical predictions to the champion"


def test_worse_challenger_is_kept_with_numbers() -> None:
    decision = decide(
        ModelScore(predictions_with_errors(150), 1.0), ModelScore(predictions_with_errors(100), 1.0)
    )

    assert not decision.promote
    assert decision.challenger_accuracy == 0.85
    assert decision.champion_accuracy == 0.9
