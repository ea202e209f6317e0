"""The verdict of a monitoring run, check by check: what the CLI's table shows and
``summary.json`` lists under ``checks``.

One place decides each check's status from the measured metrics and the alerts they raised, so
the table cannot say ``ok`` for a distribution ``summary.json`` records as drifted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from sentimentops.config import AlertSettings
from sentimentops.monitoring.results import Alert, DriftResult, MonitoringMetrics

__all__ = ["Check", "CheckStatus", "judge_checks"]

# ok: within its limit. drift: a distribution drifted, but no alert rule fired for it (the
# descriptor share is under its limit, or alerting on it is switched off). alert: it raised one.
CheckStatus = Literal["ok", "drift", "alert"]


@dataclass(frozen=True)
class Check:
    """One line of the verdict: a measurement, the limit it is judged against, its status."""

    name: str  # "rows", "length drift (K-S p)", ...
    kind: str  # the alert kind it can raise (Alert.kind)
    value: float
    limit: float
    flagged_when: Literal["below", "above"]  # the side of the limit that flags it
    status: CheckStatus
    interval: tuple[float, float] | None = None  # of an estimate
    reference: float | None = None  # the model's own test accuracy, for accuracy checks

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_checks(
    metrics: MonitoringMetrics, alerts: list[Alert], settings: AlertSettings
) -> list[Check]:
    """Every check ``metrics`` measured, in the order a person reads them: volume, drift,
    accuracy, rejects. Checks that were not measured (no labels, no text) are left out."""
    raised = {alert.kind for alert in alerts}

    def judged(kind: str) -> CheckStatus:
        return "alert" if kind in raised else "ok"

    checks = [Check("rows", "volume", metrics.rows, settings.min_rows, "below", judged("volume"))]
    if metrics.text_drift is not None:
        checks.append(
            _drift_check(
                "text drift (domain classifier AUC)", "text_drift", metrics.text_drift, raised
            )
        )
    checks += [
        _drift_check(f"{drift.column} drift (K-S p)", "descriptor_drift", drift, raised)
        for drift in metrics.descriptor_drift
    ]
    checks += [
        _drift_check(f"prediction {drift.column} drift (p)", "prediction_drift", drift, raised)
        for drift in metrics.prediction_drift
    ]
    if metrics.accuracy is not None:
        checks.append(
            Check(
                "accuracy on labels",
                "accuracy",
                metrics.accuracy,
                settings.min_accuracy,
                "below",
                judged("accuracy"),
                reference=metrics.reference_accuracy,
            )
        )
    if (estimate := metrics.estimated_accuracy) is not None:
        checks.append(
            Check(
                "estimated accuracy",
                "estimated_accuracy",
                estimate.accuracy,
                settings.min_estimated_accuracy,
                "below",
                judged("estimated_accuracy"),
                interval=(estimate.lower, estimate.upper),
                reference=metrics.reference_accuracy,
            )
        )
    if metrics.reject_rate is not None:
        checks.append(
            Check(
                "reject rate",
                "reject_rate",
                metrics.reject_rate,
                settings.max_reject_rate,
                "above",
                judged("reject_rate"),
            )
        )
    return checks


def _drift_check(name: str, kind: str, drift: DriftResult, raised: set[str]) -> Check:
    """A drifted distribution is ``alert`` when its kind raised an alert (a descriptor alert
    names every drifted descriptor), else ``drift``; one that did not drift is ``ok`` even when
    others of its kind alerted."""
    status: CheckStatus = ("alert" if kind in raised else "drift") if drift.detected else "ok"
    # The domain classifier's AUC drifts above its threshold; the tests' p-values below theirs.
    flagged_when: Literal["below", "above"] = "above" if kind == "text_drift" else "below"
    return Check(name, kind, drift.score, drift.threshold, flagged_when, status)
