"""Pure rules on online evidence: promote a challenger not worse than the champion, roll back a
champion the previous one clearly beat; each verdict with its reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sentimentops.monitoring.compare import OnlineComparison

__all__ = ["OnlineDecision", "decide_online_promotion", "decide_rollback"]


@dataclass(frozen=True)
class OnlineDecision:
    """Whether to act, why, and the comparison behind it; ``waiting`` while evidence is short."""

    act: bool
    reason: str
    comparison: OnlineComparison | None = None
    waiting: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The verdict and its numbers, JSON-ready."""
        return asdict(self)


def decide_online_promotion(
    comparison: OnlineComparison,
    *,
    significance_level: float,
    tolerance: float,
    min_labelled: int,
) -> OnlineDecision:
    """Promote when, on at least ``min_labelled`` paired requests with feedback, the challenger
    is significantly better (McNemar) or not worse (difference interval above ``-tolerance``)."""
    c = comparison
    new, old = c.challenger.version, c.champion.version
    if c.paired_labelled < min_labelled:
        return OnlineDecision(
            False,
            f"too little online evidence: {c.paired_labelled:,} requests scored by both "
            f"version {new} and version {old} have feedback, fewer than "
            f"registry.online_min_labelled ({min_labelled:,}). Keep the challenger in shadow "
            "(serving.shadow_share) and collect feedback (POST /v1/feedback), or widen --since.",
            c,
            waiting=True,
        )
    new_accuracy, old_accuracy, p_value = _paired(c)
    assert c.difference_low is not None
    accuracies = (
        f"{new_accuracy:.4f} vs {old_accuracy:.4f} on {c.paired_labelled:,} paired requests "
        "with feedback"
    )
    interval = (
        f"difference {c.difference:+.4f}, {c.confidence_level:.0%} interval "
        f"[{c.difference_low:+.4f}, {c.difference_high:+.4f}]"
    )
    better = new_accuracy > old_accuracy
    if better and p_value < significance_level:
        return OnlineDecision(
            True,
            f"version {new} is more accurate online ({accuracies}), McNemar p = "
            f"{p_value:.3g} < {significance_level}; {interval}",
            c,
        )
    if c.difference_low >= -tolerance:
        return OnlineDecision(
            True,
            f"version {new} is not worse online ({accuracies}): {interval}, above "
            f"-{tolerance} (registry.online_tolerance)",
            c,
        )
    if not better and p_value < significance_level:
        verdict = f"version {new} is worse online ({accuracies}), McNemar p = {p_value:.3g}"
    else:
        verdict = (
            f"version {new} is not shown to be as accurate online ({accuracies}, McNemar p = "
            f"{p_value:.3g}): the {interval} reaches below -{tolerance}; collect more feedback"
        )
    return OnlineDecision(False, f"{verdict}; champion stays version {old}", c)


def decide_rollback(
    comparison: OnlineComparison, *, significance_level: float, min_labelled: int
) -> OnlineDecision:
    """Roll back when the previous champion (``comparison.challenger``) was better: by McNemar
    on ``min_labelled`` paired requests, else with its accuracy interval above the current one's."""
    c = comparison
    now, before = c.champion, c.challenger
    if c.paired_labelled >= min_labelled:
        before_accuracy, now_accuracy, p_value = _paired(c)
        numbers = (
            f"version {before.version} {before_accuracy:.4f} vs version {now.version} "
            f"{now_accuracy:.4f} on {c.paired_labelled:,} paired requests with feedback, "
            f"McNemar p = {p_value:.3g}"
        )
        if before_accuracy > now_accuracy and p_value < significance_level:
            return OnlineDecision(True, f"the previous champion was better: {numbers}", c)
        return OnlineDecision(False, f"the previous champion was not better: {numbers}", c)
    if before.labelled < min_labelled or now.labelled < min_labelled:
        return OnlineDecision(
            False,
            f"too little feedback to compare with the previous champion (version "
            f"{before.version} {before.labelled:,}, version {now.version} {now.labelled:,} "
            f"requests with feedback; {min_labelled:,} needed each)",
            c,
        )
    assert before.accuracy_low is not None
    assert now.accuracy_high is not None
    numbers = (
        f"version {before.version} {before.accuracy:.4f} [{before.accuracy_low:.4f}, "
        f"{before.accuracy_high:.4f}] on {before.labelled:,} requests vs version {now.version} "
        f"{now.accuracy:.4f} [{now.accuracy_low:.4f}, {now.accuracy_high:.4f}] on "
        f"{now.labelled:,}"
    )
    if before.accuracy_low > now.accuracy_high:
        return OnlineDecision(True, f"the previous champion was better: {numbers}", c)
    return OnlineDecision(False, f"the previous champion was not clearly better: {numbers}", c)


def _paired(c: OnlineComparison) -> tuple[float, float, float]:
    assert c.challenger_paired_accuracy is not None
    assert c.champion_paired_accuracy is not None
    assert c.p_value is not None
    return c.challenger_paired_accuracy, c.champion_paired_accuracy, c.p_value
