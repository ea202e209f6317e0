"""Alerts and notifications logged, then POSTed as one JSON document to the webhook. Never
raises (a run must still write its report): problems come back as sentences."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final, NotRequired, TypedDict, Unpack
from urllib.parse import urlsplit

import httpx
import tenacity

from sentimentops.config import MonitoringSettings
from sentimentops.monitoring.results import Alert

__all__ = ["Webhook", "send_alerts", "send_notification", "webhook_of"]

logger = logging.getLogger(__name__)

SOURCE: Final = "sentimentops"
# No answer, or a server error (5xx), may pass on a retry.
_TRANSIENT: Final = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class Webhook(TypedDict):
    """Where and how to POST: ``webhook_url`` None only logs; ``timeout`` in seconds per request;
    ``attempts`` requests at most (3), the first retry after ``retry_seconds`` (0.5), doubling."""

    webhook_url: str | None
    timeout: float
    attempts: NotRequired[int]
    retry_seconds: NotRequired[float]


def webhook_of(settings: MonitoringSettings) -> Webhook:
    """The webhook ``settings`` name (``monitoring.webhook_url``, ``webhook_timeout_seconds``)."""
    return {"webhook_url": settings.webhook_url, "timeout": settings.webhook_timeout_seconds}


def send_alerts(
    alerts: Sequence[Alert], *, context: Mapping[str, Any], **webhook: Unpack[Webhook]
) -> list[str]:
    """Log every alert; if any, POST ``{"source", "alerts", **context}`` to the webhook (context
    keys "source"/"alerts" prefixed ``context_``). Returns the delivery problems, if any."""
    for alert in alerts:
        logger.warning("Monitoring alert %s: %s", alert.kind, alert.message)
    if not alerts:
        return []
    renamed = {f"context_{k}" if k in ("source", "alerts") else k: v for k, v in context.items()}
    payload = {"source": SOURCE, "alerts": [asdict(alert) for alert in alerts], **renamed}
    return _deliver(payload, "the alerts", **webhook)


def send_notification(
    event: str, message: str, details: Mapping[str, Any], **webhook: Unpack[Webhook]
) -> list[str]:
    """Log ``message`` and POST ``{"source": "sentimentops", "event", "message", **details}`` to
    the webhook as :func:`send_alerts` does. Returns the delivery problems."""
    logger.info("%s: %s", event, message)
    payload = {"source": SOURCE, "event": event, "message": message, **details}
    return _deliver(payload, f"the {event} notification", **webhook)


def _deliver(
    payload: Mapping[str, Any],
    what: str,
    *,
    webhook_url: str | None,
    timeout: float,
    attempts: int = 3,
    retry_seconds: float = 0.5,
) -> list[str]:
    if webhook_url is None:
        return []
    try:
        body = json.dumps(payload, default=str)
    except (TypeError, ValueError) as error:  # keys that are not strings, a circular context
        return [
            f"{what.capitalize()} could not be encoded as JSON for the webhook ({error}); the "
            "log and the report have them."
        ]
    # Webhook URLs often carry their secret in the path (Slack, Teams): show only the host.
    shown = _shown_url(webhook_url)
    if not shown.startswith(("http://", "https://")):
        return [
            f"The alert webhook {shown!r} is not an http(s) URL, so {what} went only to the "
            "log. Set monitoring.webhook_url (SENTIMENTOPS_MONITORING__WEBHOOK_URL) to one."
        ]

    def log_retry(state: tenacity.RetryCallState) -> None:
        failure = _described(state.outcome.exception() if state.outcome else None)
        sleep = state.next_action.sleep if state.next_action else 0.0
        attempt = state.attempt_number + 1
        logger.info(
            "Alert webhook at %s failed (%s); attempt %d of %d in %.1f s",
            *(shown, failure, attempt, attempts, sleep),
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=retry_seconds),
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, _TRANSIENT) or _status(e) >= 500),
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        retrying(_post, webhook_url, body, timeout)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
        made = retrying.statistics["attempt_number"]
        return [
            f"The alert webhook at {shown} did not take {what} after {made} "
            f"attempt{'s' if made > 1 else ''} ({_described(error)}); the log and the report "
            "have them. Check that the webhook is up and accepts JSON POSTs, or fix "
            "monitoring.webhook_url (SENTIMENTOPS_MONITORING__WEBHOOK_URL)."
        ]
    return []


def _post(url: str, body: str, timeout: float) -> None:
    headers = {"Content-Type": "application/json"}
    httpx.post(url, content=body, headers=headers, timeout=timeout).raise_for_status()


def _status(error: BaseException) -> int:
    return error.response.status_code if isinstance(error, httpx.HTTPStatusError) else 0


def _described(error: BaseException | None) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code} {error.response.reason_phrase}"
    return f"{type(error).__name__}: {error}"


def _shown_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme}://{host}" if parts.scheme else "(URL without a scheme)"
