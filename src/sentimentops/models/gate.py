"""The promotion gate: does a newly trained model replace the champion?

Promote when there is no champion yet; when the challenger is more accurate on the same test
rows and McNemar's test says the difference is significant; or when it is not worse than the
champion within a tolerance and clearly faster. Otherwise the champion stays, with the reason.

The accuracies are compared only on test rows neither model has an advantage on
(:func:`comparable_rows`): a champion trained on other splits may have been trained on part of
the challenger's test set, and would look better than it is there. When too few rows are left
the gate refuses to judge and says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sentimentops.models.evaluate import mcnemar_test

__all__ = ["MIN_SPEEDUP", "GateDecision", "ModelScore", "comparable_rows", "decide_promotion"]

# "Faster" must beat timing noise on a shared machine: at least 20% less time per 1k reviews.
MIN_SPEEDUP = 0.2


@dataclass(frozen=True)
class ModelScore:
    """One model's predictions (0/1) on the test rows and its scoring time per 1k reviews."""

    predictions: np.ndarray
    seconds_per_1k: float

    def accuracy(self, y: np.ndarray) -> float:
        return float((self.predictions == y).mean())


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    challenger_accuracy: float
    champion_accuracy: float | None = None
    p_value: float | None = None
    only_challenger_right: int | None = None
    only_champion_right: int | None = None
    challenger_seconds_per_1k: float | None = None
    champion_seconds_per_1k: float | None = None
    # The test rows the champion is compared on, and those left out: the champion's training
    # data (and not the challenger's). None when there was no comparison to make.
    compared_rows: int | None = None
    left_out_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows_summary(self) -> str | None:
        """Which test reviews the comparison with the champion is on, for people; None when
        there was none (no champion yet, too few rows, its training data unknown)."""
        if self.compared_rows is None or self.champion_accuracy is None:
            return None
        total = self.compared_rows + self.left_out_rows
        if not self.left_out_rows:
            return f"Compared with the champion on all {total:,} test reviews."
        return (
            f"Compared with the champion on {self.compared_rows:,} of the {total:,} test "
            f"reviews: {self.left_out_rows:,} left out, the champion was trained on them."
        )


def comparable_rows(
    test: np.ndarray, challenger_trained: np.ndarray, champion_trained: np.ndarray
) -> np.ndarray:
    """A mask of the test rows neither model has an advantage on: texts the champion was not
    trained on, or that the challenger was trained on too (with the official split a few texts
    are in both halves, and both models saw them). Arguments are text fingerprints
    (:func:`~sentimentops.data.version.text_fingerprints`)."""
    return ~np.isin(test, champion_trained) | np.isin(test, challenger_trained)


def decide_promotion(
    y: np.ndarray,
    challenger: ModelScore,
    champion: ModelScore | None,
    *,
    significance_level: float,
    tolerance: float,
    compared: np.ndarray | None = None,
    min_rows: int = 1,
) -> GateDecision:
    """Apply the gate to paired predictions on the same test rows.

    Accuracies are compared on the rows ``compared`` marks (default: all), and only when there
    are at least ``min_rows`` of them; timing, which training data cannot bias, uses all rows.
    """
    mask = np.ones(len(y), dtype=bool) if compared is None else np.asarray(compared, dtype=bool)
    rows = {"compared_rows": int(mask.sum()), "left_out_rows": int((~mask).sum())}
    y = y[mask]
    new = ModelScore(challenger.predictions[mask], challenger.seconds_per_1k)
    new_accuracy = new.accuracy(y) if len(y) else float("nan")
    if champion is None:
        return GateDecision(True, "no champion yet", new_accuracy)
    if len(y) < min_rows:
        reason = (
            f"too few test reviews to compare on: {len(y):,} of the challenger's "
            f"{len(mask):,} are ones the champion was not trained on, fewer than "
            f"registry.min_compared_rows ({min_rows:,}). Train on the champion's split and seed "
            "(its card says which: sentimentops models show champion) or on more data; or "
            "compare them yourself and promote by hand (sentimentops models promote VERSION)"
        )
        return GateDecision(False, reason, new_accuracy, **rows)
    old = ModelScore(champion.predictions[mask], champion.seconds_per_1k)
    old_accuracy = old.accuracy(y)
    test = mcnemar_test(y, new.predictions, old.predictions)
    numbers: dict[str, Any] = {
        "challenger_accuracy": new_accuracy,
        "champion_accuracy": old_accuracy,
        "p_value": test.p_value,
        "only_challenger_right": test.only_new_right,
        "only_champion_right": test.only_old_right,
        "challenger_seconds_per_1k": new.seconds_per_1k,
        "champion_seconds_per_1k": old.seconds_per_1k,
        **rows,
    }
    if test.only_new_right + test.only_old_right == 0:
        return GateDecision(False, "identical predictions to the champion", **numbers)
    if new_accuracy > old_accuracy and test.p_value < significance_level:
        reason = (
            f"more accurate ({new_accuracy:.4f} vs {old_accuracy:.4f}), McNemar p = "
            f"{test.p_value:.3g} < {significance_level}"
        )
        return GateDecision(True, reason, **numbers)
    faster = new.seconds_per_1k <= (1 - MIN_SPEEDUP) * old.seconds_per_1k
    if new_accuracy >= old_accuracy - tolerance and faster:
        reason = (
            f"as accurate within {tolerance} ({new_accuracy:.4f} vs {old_accuracy:.4f}) and "
            f"faster ({new.seconds_per_1k:.3f} vs {old.seconds_per_1k:.3f} s per 1k)"
        )
        return GateDecision(True, reason, **numbers)
    if new_accuracy > old_accuracy:
        reason = (
            f"more accurate ({new_accuracy:.4f} vs {old_accuracy:.4f}) but not significantly "
            f"(McNemar p = {test.p_value:.3g} >= {significance_level}) and not faster"
        )
    else:
        reason = (
            f"not more accurate ({new_accuracy:.4f} vs champion {old_accuracy:.4f}) "
            "and not faster by the required margin"
        )
    return GateDecision(False, reason, **numbers)
