"""The verdict of a monitoring run, check by check (the CLI's table, ``summary.json``'s
``checks``), decided in one place from the metrics and the alerts they raised."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from sentimentops.config import AlertSettings
from sentimentops.monitoring.results import Alert, DriftResult, MonitoringMetrics

__all__ = ["Check", "CheckStatus", "judge_checks"]

# drift: a distribution drifted, but no alert rule fired for it (under its share, or switched off).
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
        """The check as JSON-ready values."""
        return asdict(self)


def judge_checks(
    metrics: MonitoringMetrics, alerts: list[Alert], settings: AlertSettings
) -> list[Check]:
    """Every check ``metrics`` measured, in reading order: volume, drift, accuracy, rejects."""
    raised = {alert.kind for alert in alerts}

    def check(
        name: str, kind: str, value: float, limit: float, flagged_when: Any = "below", **extra: Any
    ) -> Check:
        status: CheckStatus = "alert" if kind in raised else "ok"
        return Check(name, kind, value, limit, flagged_when, status, **extra)

    drifts = [
        ("text drift (domain classifier AUC)", "text_drift", metrics.text_drift),
        *((f"{d.column} drift (K-S p)", "descriptor_drift", d) for d in metrics.descriptor_drift),
        *(
            (f"prediction {d.column} drift (p)", "prediction_drift", d)
            for d in metrics.prediction_drift
        ),
    ]
    checks = [check("rows", "volume", metrics.rows, settings.min_rows)]
    checks += [_drift_check(n, k, d, k in raised) for n, k, d in drifts if d is not None]
    reference = metrics.reference_accuracy
    if metrics.accuracy is not None:
        limit = settings.min_accuracy
        checks.append(
            check("accuracy on labels", "accuracy", metrics.accuracy, limit, reference=reference)
        )
    if (estimate := metrics.estimated_accuracy) is not None:
        limit, interval = settings.min_estimated_accuracy, (estimate.lower, estimate.upper)
        checks.append(
            check(
                "estimated accuracy",
                "estimated_accuracy",
                estimate.accuracy,
                limit,
                interval=interval,
                reference=reference,
            )
        )
    if metrics.reject_rate is not None:
        limit = settings.max_reject_rate
        checks.append(check("reject rate", "reject_rate", metrics.reject_rate, limit, "above"))
    return checks


def _drift_check(name: str, kind: str, drift: DriftResult, alerted: bool) -> Check:
    """A drifted distribution is ``alert`` when its kind raised an alert (a descriptor alert
    names every drifted descriptor), else ``drift``; one that did not drift is ``ok``."""
    status: CheckStatus = ("alert" if alerted else "drift") if drift.detected else "ok"
    # The domain classifier's AUC drifts above its threshold; the tests' p-values below theirs.
    flagged_when: Literal["below", "above"] = "above" if kind == "text_drift" else "below"
    return Check(name, kind, drift.score, drift.threshold, flagged_when, status)
