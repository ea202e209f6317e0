"""The promotion gate: does a newly trained model replace the champion?

Promote when there is no champion yet; when the challenger is more accurate on the same test
rows and McNemar's test says the difference is significant; or when it is not worse than the
champion within a tolerance and clearly faster. Otherwise the champion stays, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sentimentops.models.evaluate import mcnemar_test

__all__ = ["MIN_SPEEDUP", "GateDecision", "ModelScore", "decide_promotion"]

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_promotion(
    y: np.ndarray,
    challenger: ModelScore,
    champion: ModelScore | None,
    *,
    significance_level: float,
    tolerance: float,
) -> GateDecision:
    """Apply the gate to paired predictions on the same test rows."""
    new_accuracy = challenger.accuracy(y)
    if champion is None:
        return GateDecision(True, "no champion yet", new_accuracy)
    old_accuracy = champion.accuracy(y)
    test = mcnemar_test(y, challenger.predictions, champion.predictions)
    numbers: dict[str, Any] = {
        "challenger_accuracy": new_accuracy,
        "champion_accuracy": old_accuracy,
        "p_value": test.p_value,
        "only_challenger_right": test.only_new_right,
        "only_champion_right": test.only_old_right,
        "challenger_seconds_per_1k": challenger.seconds_per_1k,
        "champion_seconds_per_1k": champion.seconds_per_1k,
    }
    if test.only_new_right + test.only_old_right == 0:
        return GateDecision(False, "identical predictions to the champion", **numbers)
    if new_accuracy > old_accuracy and test.p_value < significance_level:
        reason = (
            f"more accurate ({new_accuracy:.4f} vs {old_accuracy:.4f}), McNemar p = "
            f"{test.p_value:.3g} < {significance_level}"
        )
        return GateDecision(True, reason, **numbers)
    faster = challenger.seconds_per_1k <= (1 - MIN_SPEEDUP) * champion.seconds_per_1k
    if new_accuracy >= old_accuracy - tolerance and faster:
        reason = (
            f"as accurate within {tolerance} ({new_accuracy:.4f} vs {old_accuracy:.4f}) and "
            f"faster ({challenger.seconds_per_1k:.3f} vs {champion.seconds_per_1k:.3f} s per 1k)"
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
