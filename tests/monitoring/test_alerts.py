"""Alerts: each threshold at its edge, and delivery to a real local webhook server."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from sentimentops.config import AlertSettings
from sentimentops.monitoring.alerts import evaluate_alerts
from sentimentops.monitoring.delivery import send_alerts, send_notification
from sentimentops.monitoring.results import (
    AccuracyEstimate,
    Alert,
    DriftResult,
    MonitoringMetrics,
)
from tests.conftest import Webhook
from tests.servers import free_port

SETTINGS = AlertSettings(
    descriptor_drift_share=0.5,
    min_accuracy=0.85,
    min_estimated_accuracy=0.85,
    max_reject_rate=0.05,
    min_rows=100,
)


def drift(column: str, detected: bool, score: float = 0.01, threshold: float = 0.05) -> DriftResult:
    return DriftResult(column, "K-S p_value", score, threshold, detected)


def estimate(accuracy: float) -> AccuracyEstimate:
    return AccuracyEstimate(accuracy, accuracy - 0.02, accuracy + 0.02, 0.95, 500)


HEALTHY = MonitoringMetrics(
    rows=500,
    reference_rows=1000,
    text_drift=DriftResult("review", "roc_auc", 0.51, 0.55, detected=False),
    descriptor_drift=[drift(name, detected=False, score=0.4) for name in "abcd"],
    prediction_drift=[drift("label", False, 0.3), drift("score", False, 0.4)],
    accuracy=0.9,
    f1=0.9,
    roc_auc=0.95,
    estimated_accuracy=estimate(0.9),
    reference_accuracy=0.91,
    reject_rate=0.0,
)


def kinds(metrics: MonitoringMetrics, settings: AlertSettings = SETTINGS) -> list[str]:
    return [alert.kind for alert in evaluate_alerts(metrics, settings)]


def test_healthy_metrics_raise_nothing() -> None:
    assert evaluate_alerts(HEALTHY, SETTINGS) == []


def test_unmeasured_metrics_raise_nothing() -> None:
    assert evaluate_alerts(MonitoringMetrics(rows=500, reference_rows=1000), SETTINGS) == []


@pytest.mark.parametrize(
    ("change", "fires"),
    [
        ({"accuracy": 0.85}, False),
        ({"accuracy": 0.8499}, True),
        ({"estimated_accuracy": estimate(0.85)}, False),
        ({"estimated_accuracy": estimate(0.8499)}, True),
        ({"reject_rate": 0.05}, False),
        ({"reject_rate": 0.0501}, True),
        ({"rows": 100}, False),
        ({"rows": 99}, True),
    ],
)
def test_numeric_limits_fire_only_past_their_edge(change: dict[str, object], fires: bool) -> None:
    (name,) = change
    kind = "volume" if name == "rows" else name

    alerts = evaluate_alerts(replace(HEALTHY, **change), SETTINGS)  # type: ignore[arg-type]

    assert [alert.kind for alert in alerts] == ([kind] if fires else [])


@pytest.mark.parametrize(("drifted", "fires"), [(1, False), (2, True), (4, True)])
def test_descriptor_drift_fires_at_its_share(drifted: int, fires: bool) -> None:
    results = [drift(name, detected=i < drifted) for i, name in enumerate("abcd")]

    alerts = evaluate_alerts(replace(HEALTHY, descriptor_drift=results), SETTINGS)

    assert [alert.kind for alert in alerts] == (["descriptor_drift"] if fires else [])
    if fires:
        assert alerts[0].value == drifted / 4
        assert alerts[0].limit == 0.5
        assert "a, b" in alerts[0].message


@pytest.mark.parametrize("enabled", [True, False])
def test_text_drift_fires_when_detected_and_enabled(enabled: bool) -> None:
    drifted = DriftResult("review", "roc_auc", 0.71, 0.55, detected=True)
    settings = replace_settings(on_text_drift=enabled)

    assert kinds(replace(HEALTHY, text_drift=drifted), settings) == (
        ["text_drift"] if enabled else []
    )
    assert kinds(HEALTHY, settings) == []


@pytest.mark.parametrize("enabled", [True, False])
def test_prediction_drift_fires_per_drifted_distribution(enabled: bool) -> None:
    results = [drift("label", True, 0.001, 0.01), drift("score", False, 0.2, 0.01)]
    settings = replace_settings(on_prediction_drift=enabled)

    alerts = evaluate_alerts(replace(HEALTHY, prediction_drift=results), settings)

    if enabled:
        (alert,) = alerts
        assert (alert.kind, alert.value, alert.limit) == ("prediction_drift", 0.001, 0.01)
        assert "label" in alert.message
    else:
        assert alerts == []


def test_messages_give_value_limit_and_what_to_check() -> None:
    metrics = replace(HEALTHY, accuracy=0.8, estimated_accuracy=estimate(0.8), rows=40)

    by_kind = {alert.kind: alert for alert in evaluate_alerts(metrics, SETTINGS)}

    accuracy = by_kind["accuracy"]
    assert (accuracy.value, accuracy.limit) == (0.8, 0.85)
    assert "0.800" in accuracy.message
    assert "0.850" in accuracy.message
    assert "0.910" in accuracy.message  # the model's own test accuracy, for comparison
    assert "Check" in accuracy.message
    assert "95% interval is [0.780, 0.820] over 500 rows" in by_kind["estimated_accuracy"].message
    assert (by_kind["volume"].value, by_kind["volume"].limit) == (40.0, 100.0)


def replace_settings(**changes: object) -> AlertSettings:
    return SETTINGS.model_copy(update=changes)


# --- delivery ---------------------------------------------------------------------------------

ALERTS = [Alert("accuracy", 0.8, 0.85, "Accuracy dropped."), Alert("volume", 3.0, 100.0, "Few.")]
CONTEXT = {"model": {"name": "imdb-sentiment", "version": "3"}, "report": "/tmp/r.html"}


def deliver(url: str | None, alerts: list[Alert] = ALERTS) -> list[str]:
    return send_alerts(alerts, context=CONTEXT, webhook_url=url, timeout=2, retry_seconds=0.01)


def test_webhook_gets_one_json_document_with_every_alert(webhook: Webhook) -> None:
    problems = deliver(webhook.url)

    assert problems == []
    ((headers, body),) = webhook.received
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "source": "sentimentops",
        "alerts": [
            {"kind": "accuracy", "value": 0.8, "limit": 0.85, "message": "Accuracy dropped."},
            {"kind": "volume", "value": 3.0, "limit": 100.0, "message": "Few."},
        ],
        "model": {"name": "imdb-sentiment", "version": "3"},
        "report": "/tmp/r.html",
    }


def test_server_errors_are_retried_until_the_third_attempt(webhook: Webhook) -> None:
    webhook.statuses = [500, 503]

    assert deliver(webhook.url) == []

    assert len(webhook.received) == 3
    assert len({body for _, body in webhook.received}) == 1  # the same document each time


def test_three_server_errors_are_a_problem_not_an_exception(webhook: Webhook) -> None:
    webhook.statuses = [500, 500, 500, 500]

    (problem,) = deliver(webhook.url)

    assert len(webhook.received) == 3
    assert "after 3 attempts" in problem
    assert "HTTP 500" in problem


def test_client_errors_are_not_retried(webhook: Webhook) -> None:
    webhook.statuses = [400]

    (problem,) = deliver(webhook.url)

    assert len(webhook.received) == 1
    assert "HTTP 400" in problem


def test_unreachable_webhook_is_a_problem_without_its_secret() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/secret-token"

    (problem,) = deliver(url)

    assert "after 3 attempts" in problem
    assert f"{url.rsplit('/hooks', 1)[0]} " in problem
    assert "secret-token" not in problem
    assert "webhook_url" in problem


def test_non_http_webhook_is_refused_without_a_request() -> None:
    (problem,) = deliver("file:///etc/passwd")

    assert "not an http(s) URL" in problem


def test_unparseable_webhook_url_is_a_problem_not_an_exception() -> None:
    (problem,) = deliver("https://[::1/hooks/secret-token")

    assert "not an http(s) URL" in problem
    assert "secret-token" not in problem


def test_alerts_are_logged_as_warnings_without_a_webhook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sentimentops.monitoring.delivery"):
        assert deliver(None) == []

    messages = [record.getMessage() for record in caplog.records]
    assert [record.levelno for record in caplog.records] == [logging.WARNING] * 2
    assert "accuracy" in messages[0]
    assert "Accuracy dropped." in messages[0]


def test_nothing_is_posted_without_alerts(webhook: Webhook) -> None:
    assert deliver(webhook.url, alerts=[]) == []

    assert webhook.received == []


def test_context_keys_do_not_replace_the_payload_keys(webhook: Webhook) -> None:
    context = {"source": "data/current.csv", "alerts": "x", "window": "a..b"}

    problems = send_alerts(ALERTS, context=context, webhook_url=webhook.url, timeout=2)

    assert problems == []
    document = json.loads(webhook.received[0][1])
    assert document["source"] == "sentimentops"
    assert len(document["alerts"]) == 2
    assert (document["context_source"], document["context_alerts"]) == ("data/current.csv", "x")
    assert document["window"] == "a..b"


def test_a_notification_is_one_json_post_with_its_event(webhook: Webhook) -> None:
    problems = send_notification(
        "retraining",
        "Promoted version 4.",
        {"champion_before": "3", "champion_after": "4"},
        webhook_url=webhook.url,
        timeout=2,
    )

    assert problems == []
    body = json.loads(webhook.received[0][1])
    assert body == {
        "source": "sentimentops",
        "event": "retraining",
        "message": "Promoted version 4.",
        "champion_before": "3",
        "champion_after": "4",
    }


def test_an_undelivered_notification_is_a_problem_naming_it(webhook: Webhook) -> None:
    webhook.statuses = [500, 500, 500]

    problems = send_notification(
        "retraining", "Kept.", {}, webhook_url=webhook.url, timeout=2, retry_seconds=0.01
    )

    assert len(problems) == 1
    assert "did not take the retraining notification after 3 attempts" in problems[0]
    assert "secret-token" not in problems[0]
