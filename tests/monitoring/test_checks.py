"""The verdict, check by check: a drifted distribution never reads ``ok``, one that did not drift
never reads as an alert, and every check shows the limit it is judged against."""

from __future__ import annotations

from sentimentops.config import AlertSettings
from sentimentops.monitoring.alerts import evaluate_alerts
from sentimentops.monitoring.checks import judge_checks
from sentimentops.monitoring.results import AccuracyEstimate, DriftResult, MonitoringMetrics

SETTINGS = AlertSettings()


DESCRIPTORS = ("length", "oov_share", "non_letter_share", "html_share")


def descriptor(column: str, p_value: float) -> DriftResult:
    return DriftResult(column, "ks", p_value, 0.01, detected=p_value < 0.01)


def one_drifted(column: str) -> list[DriftResult]:
    """The four descriptors, ``column`` alone drifted (a quarter: under the default share)."""
    return [descriptor(name, 1e-24 if name == column else 0.5) for name in DESCRIPTORS]


def metrics(**changes: object) -> MonitoringMetrics:
    base: dict[str, object] = {
        "rows": 600,
        "reference_rows": 500,
        "text_drift": DriftResult("review", "abs_text_content_drift", 0.52, 0.55, False),
        "descriptor_drift": [descriptor(name, 0.5) for name in DESCRIPTORS],
        "prediction_drift": [DriftResult("score", "ks", 0.4, 0.01, False)],
        "estimated_accuracy": AccuracyEstimate(0.9, 0.88, 0.92, 0.95, 600),
        "reference_accuracy": 0.88,
    }
    return MonitoringMetrics(**{**base, **changes})  # type: ignore[arg-type]


def statuses(measured: MonitoringMetrics, settings: AlertSettings = SETTINGS) -> dict[str, str]:
    alerts = evaluate_alerts(measured, settings)
    return {check.name: check.status for check in judge_checks(measured, alerts, settings)}


def test_a_drifted_descriptor_under_the_alert_share_says_drift_not_ok() -> None:
    measured = metrics(descriptor_drift=one_drifted("length"))

    assert statuses(measured)["length drift (K-S p)"] == "drift"
    assert statuses(measured)["oov_share drift (K-S p)"] == "ok"


def test_when_the_descriptor_alert_fires_only_the_drifted_ones_say_alert() -> None:
    measured = metrics(descriptor_drift=one_drifted("length"))
    quarter = AlertSettings(descriptor_drift_share=0.25)

    assert statuses(measured, quarter)["length drift (K-S p)"] == "alert"
    assert statuses(measured, quarter)["oov_share drift (K-S p)"] == "ok"


def test_drift_with_its_alert_switched_off_says_drift() -> None:
    drifted = DriftResult("review", "abs_text_content_drift", 0.8, 0.55, True)
    quiet = AlertSettings(on_text_drift=False)

    assert statuses(metrics(text_drift=drifted), quiet)["text drift (domain classifier AUC)"] == (
        "drift"
    )
    assert statuses(metrics(text_drift=drifted))["text drift (domain classifier AUC)"] == "alert"


def test_every_check_has_its_limit_and_side_and_rows_under_the_minimum_alert() -> None:
    measured = metrics(rows=8, accuracy=0.7, reject_rate=0.01)
    checks = judge_checks(measured, evaluate_alerts(measured, SETTINGS), SETTINGS)
    by_name = {check.name: check for check in checks}

    assert (by_name["rows"].limit, by_name["rows"].flagged_when) == (100, "below")
    assert by_name["rows"].status == "alert"
    assert by_name["text drift (domain classifier AUC)"].flagged_when == "above"
    assert (by_name["accuracy on labels"].limit, by_name["accuracy on labels"].status) == (
        0.85,
        "alert",
    )
    assert by_name["accuracy on labels"].reference == 0.88
    assert by_name["estimated accuracy"].interval == (0.88, 0.92)
    assert (by_name["reject rate"].flagged_when, by_name["reject rate"].status) == ("above", "ok")
