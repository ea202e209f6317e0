"""One ASGI middleware for what every request needs: an id, limits, metrics (plain ASGI: see
docs/decisions.md, Serving)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentimentops.serving.errors import error_response
from sentimentops.serving.metrics import ApiMetrics
from sentimentops.serving.schemas import REQUEST_ID_PATTERN

__all__ = ["RequestGuard"]

_CLIENT_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
# Probes and scrapes are never refused: an overloaded server must still say it is alive.
_UNLIMITED_PREFIXES = ("/health", "/v2/health", "/metrics")
# A readiness probe's 503 while the model loads is its answer ("not yet"), not an error.
_READINESS_PROBES = frozenset({"/health/ready", "/v2/health/ready"})
# Feedback for an id not found yet waits a log flush (ApiState.require_answered): it has slots
# of its own, so that a flood of it cannot take the ones predictions need.
_FEEDBACK_PATH = "/v1/feedback"


@dataclass
class RequestGuard:
    """Request ids, body size and concurrency limits, and request metrics; ``routes`` name the
    route of a request answered before routing (413, 503). Feedback and the other limited
    requests each have ``max_concurrency`` slots."""

    app: ASGIApp
    _: KW_ONLY
    metrics: ApiMetrics
    routes: Sequence[Route]
    max_body_bytes: int
    max_concurrency: int
    in_flight: int = field(default=0, init=False)
    feedback_in_flight: int = field(default=0, init=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = Headers(scope=scope)
        valid_ids = filter(_CLIENT_REQUEST_ID.fullmatch, sent.getlist("x-request-id"))
        request_id = next(valid_ids, None) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        status = 500
        body_too_large = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        limited = not path.startswith(_UNLIMITED_PREFIXES)
        feedback = path == _FEEDBACK_PATH
        try:
            taken = self.feedback_in_flight if feedback else self.in_flight
            if limited and taken >= self.max_concurrency:
                kind = "feedback requests" if feedback else "requests"
                await error_response(
                    path,
                    503,
                    f"Over capacity ({self.max_concurrency} {kind} in flight); retry shortly.",
                    request_id=request_id,
                    type="overloaded",
                    headers={"Retry-After": "1"},
                )(scope, receive, send_with_id)
                return
            declared = sent.get("content-length", "")
            if declared.isdecimal() and int(declared) > self.max_body_bytes:
                await self._too_large(scope, receive, send_with_id, request_id)
                return
            received = 0

            async def limited_receive() -> Message:
                # A chunked body is counted as it arrives. Past the limit the app is told it
                # ended, and its answer to the truncated body is replaced by a 413.
                nonlocal received, body_too_large
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        body_too_large = True
                        return {"type": "http.request", "body": b"", "more_body": False}
                return message

            async def send_unless_too_large(message: Message) -> None:
                if not body_too_large:
                    await send_with_id(message)
                elif message["type"] == "http.response.start":
                    await self._too_large(scope, receive, send_with_id, request_id)

            slots = int(limited)
            self._take(feedback, slots)
            try:
                await self.app(scope, limited_receive, send_unless_too_large)
            finally:
                self._take(feedback, -slots)
        finally:
            endpoint = _endpoint(scope, self.routes)
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            if status >= 400 and not (status == 503 and endpoint in _READINESS_PROBES):
                self.metrics.errors.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

    def _take(self, feedback: bool, slots: int) -> None:
        """Take (or give back, negative) ``slots`` of the feedback pool or the other one."""
        if feedback:
            self.feedback_in_flight += slots
        else:
            self.in_flight += slots

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        await error_response(
            scope["path"],
            413,
            f"Request body over {self.max_body_bytes:,} bytes; send fewer or shorter texts.",
            request_id=request_id,
        )(scope, receive, send)


def _endpoint(scope: Scope, routes: Sequence[Route]) -> str:
    """The route template (a bounded label): the one routing recorded, else the matching one."""
    route: Any = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] == Match.FULL), None)
    return str(getattr(route, "path", None) or "unmatched")
