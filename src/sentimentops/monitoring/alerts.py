"""Alerts: which thresholds a monitoring run crossed, and their delivery to the log and a webhook.

:func:`evaluate_alerts` is pure: metrics and settings in, alerts out. :func:`send_alerts` logs
them and POSTs them to the configured webhook; it never raises on a delivery failure, because a
run that found something must still write its report and exit with code 3. It returns the
problems instead, for the caller to show.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final
from urllib.parse import urlsplit

from sentimentops.config import AlertSettings
from sentimentops.monitoring.results import Alert, DriftResult, MonitoringMetrics

__all__ = ["WEBHOOK_SOURCE", "evaluate_alerts", "send_alerts", "send_notification"]

logger = logging.getLogger(__name__)

WEBHOOK_SOURCE: Final = "sentimentops"
_RESERVED_KEYS: Final = frozenset({"source", "alerts"})


def evaluate_alerts(metrics: MonitoringMetrics, settings: AlertSettings) -> list[Alert]:
    """The alerts ``metrics`` raise under ``settings``; empty when nothing crossed a limit.

    At most one alert per kind, except ``prediction_drift``: one per drifted distribution
    (label share, score), each with its own statistic and threshold. A metric that was not
    measured (None) raises nothing.
    """
    alerts = [
        *_text_drift(metrics.text_drift, settings),
        *_descriptor_drift(metrics.descriptor_drift, settings),
        *_prediction_drift(metrics.prediction_drift, settings),
    ]
    if metrics.accuracy is not None and metrics.accuracy < settings.min_accuracy:
        reference = (
            f" (its test accuracy was {metrics.reference_accuracy:.3f})"
            if metrics.reference_accuracy is not None
            else ""
        )
        alerts.append(
            Alert(
                kind="accuracy",
                value=metrics.accuracy,
                limit=settings.min_accuracy,
                message=(
                    f"Accuracy on the labelled rows is {metrics.accuracy:.3f}, below the "
                    f"minimum of {settings.min_accuracy:.3f}{reference}. Check the drift "
                    "sections of the report and the quality of the feedback labels, then "
                    "consider retraining on recent reviews."
                ),
            )
        )
    estimate = metrics.estimated_accuracy
    if estimate is not None and estimate.accuracy < settings.min_estimated_accuracy:
        alerts.append(
            Alert(
                kind="estimated_accuracy",
                value=estimate.accuracy,
                limit=settings.min_estimated_accuracy,
                message=(
                    f"Estimated accuracy (from the model's confidence, no labels) is "
                    f"{estimate.accuracy:.3f}, below the minimum of "
                    f"{settings.min_estimated_accuracy:.3f}; the "
                    f"{estimate.confidence_level:.0%} interval is "
                    f"[{estimate.lower:.3f}, {estimate.upper:.3f}] over {estimate.rows} rows. "
                    "Check the text drift in the report and collect labels for a sample of "
                    "these reviews to confirm before retraining."
                ),
            )
        )
    if metrics.reject_rate is not None and metrics.reject_rate > settings.max_reject_rate:
        alerts.append(
            Alert(
                kind="reject_rate",
                value=metrics.reject_rate,
                limit=settings.max_reject_rate,
                message=(
                    f"{metrics.reject_rate:.1%} of the input rows were rejected, above the "
                    f"maximum of {settings.max_reject_rate:.1%}. Check the batch's rejects "
                    "file for the reasons (empty or unreadable text, wrong columns) and the "
                    "producer of the input."
                ),
            )
        )
    if metrics.rows < settings.min_rows:
        alerts.append(
            Alert(
                kind="volume",
                value=float(metrics.rows),
                limit=float(settings.min_rows),
                message=(
                    f"Only {metrics.rows} rows were monitored, fewer than the minimum of "
                    f"{settings.min_rows}, so the other measurements are unreliable. Check "
                    "that the API is logging predictions and that the window or input file "
                    "is the intended one."
                ),
            )
        )
    return alerts


def _text_drift(result: DriftResult | None, settings: AlertSettings) -> list[Alert]:
    if result is None or not result.detected or not settings.on_text_drift:
        return []
    message = (
        f"The review text drifted: a classifier tells current reviews from the reference ones "
        f"with {result.method} {result.score:.3f}, above the threshold of "
        f"{result.threshold:.3f}. Check the report for the words and descriptors that changed "
        "(new topics, language, length) and whether the input source changed."
    )
    return [Alert("text_drift", result.score, result.threshold, message)]


def _descriptor_drift(results: Sequence[DriftResult], settings: AlertSettings) -> list[Alert]:
    if not results:
        return []
    drifted = [result.column for result in results if result.detected]
    share = len(drifted) / len(results)
    if share < settings.descriptor_drift_share:
        return []
    message = (
        f"{len(drifted)} of {len(results)} text descriptors drifted ({share:.0%}, at or above "
        f"the limit of {settings.descriptor_drift_share:.0%}): {', '.join(drifted)}. Check "
        "their distributions in the report and what changed in the reviews' origin."
    )
    return [Alert("descriptor_drift", share, settings.descriptor_drift_share, message)]


def _prediction_drift(results: Sequence[DriftResult], settings: AlertSettings) -> list[Alert]:
    if not settings.on_prediction_drift:
        return []
    return [
        Alert(
            kind="prediction_drift",
            value=result.score,
            limit=result.threshold,
            message=(
                f"The model's {result.column} distribution drifted ({result.method} "
                f"{result.score:.3g} against the threshold {result.threshold:.3g}). Check "
                "whether the share of positive reviews really changed or the model is "
                "misjudging new input; compare with the text drift in the report."
            ),
        )
        for result in results
        if result.detected
    ]


def send_alerts(
    alerts: Sequence[Alert],
    *,
    context: Mapping[str, Any],
    webhook_url: str | None,
    timeout: float,
    attempts: int = 3,
    retry_seconds: float = 0.5,
) -> list[str]:
    """Log every alert at WARNING and, when ``webhook_url`` is set, POST them all in one request.

    The JSON body is ``{"source": "sentimentops", "alerts": [...], **context}``, each alert as
    its fields; a context key "source" or "alerts" is sent as "context_source" or
    "context_alerts", so receivers can always tell the sender and find the alerts.
    Connection failures, timeouts and 5xx answers are retried up to ``attempts`` times in all,
    waiting ``retry_seconds`` and then twice as long after each failure; other answers (4xx)
    are not retried. Nothing is sent when there are no alerts.

    Args:
        alerts: what :func:`evaluate_alerts` found.
        context: JSON-compatible facts about the run: model name and version, report path,
            window. Values JSON cannot encode are sent as their ``str``.
        webhook_url: an http(s) URL, or None to only log.
        timeout: seconds per attempt.
        attempts: requests at most (one is always made).
        retry_seconds: the wait after the first failed attempt.

    Returns:
        Delivery problems, one sentence each; empty when the alerts were delivered or there
        was nothing to deliver. Never raises: a run that alerts must still finish.
    """
    for alert in alerts:
        logger.warning("Monitoring alert %s: %s", alert.kind, alert.message)
    if not alerts or webhook_url is None:
        return []
    payload = {
        "source": WEBHOOK_SOURCE,
        "alerts": [asdict(alert) for alert in alerts],
        **{
            f"context_{key}" if key in _RESERVED_KEYS else key: value
            for key, value in context.items()
        },
    }
    return _deliver(payload, webhook_url, timeout, attempts, retry_seconds, what="the alerts")


def send_notification(
    event: str,
    message: str,
    details: Mapping[str, Any],
    *,
    webhook_url: str | None,
    timeout: float,
    attempts: int = 3,
    retry_seconds: float = 0.5,
) -> list[str]:
    """Log ``message`` and POST ``{"source": "sentimentops", "event", "message", **details}`` to
    the webhook alerts go to (retrying like :func:`send_alerts`). Returns delivery problems;
    never raises."""
    logger.info("%s: %s", event, message)
    if webhook_url is None:
        return []
    payload = {"source": WEBHOOK_SOURCE, "event": event, "message": message, **details}
    return _deliver(
        payload, webhook_url, timeout, attempts, retry_seconds, what=f"the {event} notification"
    )


def _deliver(
    payload: Mapping[str, Any],
    url: str,
    timeout: float,
    attempts: int,
    retry_seconds: float,
    *,
    what: str,
) -> list[str]:
    """Encode ``payload`` as JSON and POST it; the delivery problems, never an exception."""
    try:
        body = json.dumps(payload, default=str).encode("utf-8")
    except (TypeError, ValueError) as error:  # keys that are not strings, a circular context
        return [
            f"{what.capitalize()} could not be encoded as JSON for the webhook ({error}); the "
            "log and the report have them."
        ]
    problem = _post_with_retries(url, body, timeout, attempts, retry_seconds, what=what)
    return [] if problem is None else [problem]


def _post_with_retries(
    url: str,
    body: bytes,
    timeout: float,
    attempts: int,
    retry_seconds: float,
    *,
    what: str = "the alerts",
) -> str | None:
    """POST ``body`` until it is accepted or a failure is final; the problem, or None.

    The standard library's urllib rather than httpx: httpx is only a development dependency
    here, and one small POST per run needs neither a connection pool nor async.
    """
    # Webhook URLs often carry their secret in the path (Slack, Teams): show only the host.
    shown = _shown_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        return (
            f"The alert webhook {shown!r} is not an http(s) URL, so {what} went only to "
            "the log. Set monitoring.webhook_url (SENTIMENTOPS_MONITORING__WEBHOOK_URL) to "
            "one."
        )
    delay = retry_seconds
    attempt = 1
    while True:
        failure, transient = _post_once(url, body, timeout)
        if failure is None:
            return None
        if not transient or attempt >= attempts:
            return (
                f"The alert webhook at {shown} did not take {what} after {attempt} "
                f"attempt{'s' if attempt > 1 else ''} ({failure}); the log and the report "
                "have them. Check that the webhook is up and accepts JSON POSTs, or fix "
                "monitoring.webhook_url (SENTIMENTOPS_MONITORING__WEBHOOK_URL)."
            )
        attempt += 1
        logger.info(
            "Alert webhook at %s failed (%s); attempt %d of %d in %.1f s",
            shown,
            failure,
            attempt,
            attempts,
            delay,
        )
        time.sleep(delay)
        delay *= 2


def _post_once(url: str, body: bytes, timeout: float) -> tuple[str | None, bool]:
    """One POST: (None, _) when accepted, else (what failed, whether a retry may help)."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.close()
        return f"HTTP {error.code} {error.reason}", error.code >= 500
    except (http.client.InvalidURL, ValueError) as error:
        return f"{type(error).__name__}: {error}", False
    except (OSError, http.client.HTTPException) as error:
        # URLError, refused or reset connections and timeouts are OSError; a connection
        # closed mid-answer is an HTTPException. All may pass.
        reason = getattr(error, "reason", None) or error
        return f"{type(error).__name__}: {reason}", True
    return None, False


def _shown_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "(URL without a scheme)"
