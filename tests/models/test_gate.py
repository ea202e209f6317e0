"""The promotion gate's decisions."""

from __future__ import annotations

import numpy as np

from sentimentops.models.gate import ModelScore, comparable_rows, decide_promotion

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


def test_rows_only_the_champion_was_trained_on_are_left_out() -> None:
    test = np.array([1, 2, 3, 4], dtype=np.uint64)

    compared = comparable_rows(
        test,
        challenger_trained=np.array([4, 9], dtype=np.uint64),
        champion_trained=np.array([2, 4], dtype=np.uint64),
    )

    # 2: the champion's training text only; 4: both were trained on it (no one's advantage).
    assert compared.tolist() == [True, False, True, True]


def test_accuracies_are_compared_on_the_rows_the_champion_was_not_trained_on() -> None:
    # The champion is right on the 400 rows it was trained on and wrong on 150 of the other 600;
    # the challenger is wrong on 100 of those 600 (and, unseen, on 100 of the 400).
    seen = np.zeros(len(Y), dtype=bool)
    seen[:400] = True
    champion = ModelScore(predictions_with_errors(150, offset=400), 1.0)
    challenger_predictions = predictions_with_errors(100, offset=400)
    challenger_predictions[:100] = 1 - challenger_predictions[:100]
    challenger = ModelScore(challenger_predictions, 1.0)
    on_all_rows = decide(challenger, champion)

    decision = decide_promotion(
        Y, challenger, champion, significance_level=0.05, tolerance=0.002, compared=~seen
    )

    assert not on_all_rows.promote  # the champion's memory makes it look better: 0.85 vs 0.8
    assert decision.promote
    assert decision.champion_accuracy == 0.75  # 450 of the 600 rows it was not trained on
    assert round(decision.challenger_accuracy, 4) == round(500 / 600, 4)
    assert (decision.compared_rows, decision.left_out_rows) == (600, 400)
    assert decision.rows_summary() == (
        "Compared with the champion on 600 of the 1,000 test reviews: 400 left out, the "
        "champion was trained on them."
    )


def test_too_few_rows_to_compare_on_keep_the_champion_and_say_why() -> None:
    compared = np.zeros(len(Y), dtype=bool)
    compared[:150] = True

    decision = decide_promotion(
        Y,
        ModelScore(predictions_with_errors(10), 1.0),
        ModelScore(predictions_with_errors(100), 1.0),
        significance_level=0.05,
        tolerance=0.002,
        compared=compared,
        min_rows=200,
    )

    assert not decision.promote
    assert decision.reason.startswith("too few test reviews to compare on: 150 of the")
    assert "registry.min_compared_rows (200)" in decision.reason
    assert decision.champion_accuracy is None
    assert (decision.compared_rows, decision.left_out_rows) == (150, 850)
    assert decision.rows_summary() is None  # nothing was compared: the reason says why


def test_a_comparison_on_every_row_says_so() -> None:
    decision = decide(
        ModelScore(predictions_with_errors(50), 1.0), ModelScore(predictions_with_errors(100), 1.0)
    )

    assert decision.rows_summary() == "Compared with the champion on all 1,000 test reviews."
    assert decide(ModelScore(Y, 1.0), None).rows_summary() is None


def test_online_mode_promotes_only_a_first_champion_and_tries_none_worse_on_test() -> None:
    from sentimentops.models.gate import NO_CHAMPION, GateDecision, defer_to_online

    first, first_tried = defer_to_online(GateDecision(True, NO_CHAMPION, 0.8), 0.01)
    close, close_tried = defer_to_online(GateDecision(True, "more accurate", 0.86, 0.85), 0.01)
    worse, worse_tried = defer_to_online(GateDecision(False, "not better", 0.83, 0.85), 0.01)

    assert (first.promote, first_tried) == (True, True)
    assert (close.promote, close_tried) == (False, True)
    assert "promotion waits for online evidence" in close.reason
    assert (worse.promote, worse_tried) == (False, False)
    assert "by more than 0.01 (0.8300 vs champion 0.8500): not tried online" in worse.reason
