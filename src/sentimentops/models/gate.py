"""The promotion gate: promote when there is no champion, when significantly more accurate
(McNemar), or as accurate and clearly faster, on fair test rows (docs/decisions.md, Training)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from sentimentops.models.evaluate import mcnemar_test

__all__ = [
    "MIN_SPEEDUP",
    "NO_CHAMPION",
    "GateDecision",
    "ModelScore",
    "comparable_rows",
    "decide_promotion",
    "defer_to_online",
]

# "Faster" must beat timing noise on a shared machine: at least 20% less time per 1k reviews.
MIN_SPEEDUP = 0.2
NO_CHAMPION = "no champion yet"


@dataclass(frozen=True)
class ModelScore:
    """One model's predictions (0/1) on the test rows and its scoring time per 1k reviews."""

    predictions: np.ndarray
    seconds_per_1k: float

    def accuracy(self, y: np.ndarray) -> float:
        """The share of predictions equal to ``y``."""
        return float((self.predictions == y).mean())


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict, its reason and the numbers behind it."""

    promote: bool
    reason: str
    challenger_accuracy: float
    champion_accuracy: float | None = None
    p_value: float | None = None
    only_challenger_right: int | None = None
    only_champion_right: int | None = None
    challenger_seconds_per_1k: float | None = None
    champion_seconds_per_1k: float | None = None
    # Test rows compared on, and those left out as the champion's training data alone.
    compared_rows: int | None = None
    left_out_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready values."""
        return asdict(self)

    def rows_summary(self) -> str | None:
        """Which test reviews the champion was compared on, for people; None without one."""
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
    """A mask of the test rows (text fingerprints) neither model has an advantage on: not in the
    champion's training texts, or in the challenger's too (the official split repeats a few)."""
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
    """The gate on paired predictions of the same test rows: accuracies on the rows
    ``compared`` marks (default: all; no verdict under ``min_rows``), timing on all rows."""
    mask = np.ones(len(y), dtype=bool) if compared is None else np.asarray(compared, dtype=bool)
    rows = {"compared_rows": int(mask.sum()), "left_out_rows": int((~mask).sum())}
    y = y[mask]
    new = ModelScore(challenger.predictions[mask], challenger.seconds_per_1k)
    new_accuracy = new.accuracy(y) if len(y) else float("nan")
    if champion is None:
        return GateDecision(True, NO_CHAMPION, new_accuracy)
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


def defer_to_online(decision: GateDecision, tolerance: float) -> tuple[GateDecision, bool]:
    """``decision`` when promotion rests on live traffic, and whether to try the challenger
    online: a first model is promoted; others wait, unless worse by more than ``tolerance``."""
    if decision.promote and decision.reason == NO_CHAMPION:
        return decision, True
    wait = "promotion waits for online evidence (sentimentops models promote --online)"
    if decision.champion_accuracy is None:
        reason = f"{decision.reason}; tried online: {wait}"
        return replace(decision, promote=False, reason=reason), True
    numbers = f"{decision.challenger_accuracy:.4f} vs champion {decision.champion_accuracy:.4f}"
    if decision.challenger_accuracy >= decision.champion_accuracy - tolerance:
        reason = (
            f"on the test split within {tolerance} of the champion or better ({numbers}); {wait}"
        )
        return replace(decision, promote=False, reason=reason), True
    reason = (
        f"less accurate than the champion on the test split by more than {tolerance} "
        f"({numbers}): not tried online"
    )
    return replace(decision, promote=False, reason=reason), False
