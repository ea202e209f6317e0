"""Operations endpoints: health probes, Prometheus metrics, and the admin reload."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sentimentops.serving.api_v1 import require_api_key, state_of
from sentimentops.serving.errors import ApiError
from sentimentops.serving.schemas import (
    ErrorResponse,
    Health,
    LogHealth,
    ModelIdentity,
    ReloadResponse,
)

__all__ = ["build_ops_router"]


def build_ops_router() -> APIRouter:
    router = APIRouter()

    @router.get("/health/live", response_model=Health, tags=["health"])
    async def live(request: Request) -> Health:
        """The process answers. Never needs the API key."""
        return Health(status="ok", model=_identity(request))

    @router.get(
        "/health/ready",
        response_model=Health,
        tags=["health"],
        responses={503: {"model": Health}},
    )
    async def ready(request: Request) -> Any:
        """200 once a model is loaded, 503 until then."""
        state = state_of(request)
        if state.slot.current is None:
            body = Health(status="loading", error=state.slot.last_error)
            return JSONResponse(body.model_dump(mode="json"), status_code=503)
        return Health(status="ok", model=_identity(request))

    @router.get(
        "/health/log",
        response_model=LogHealth,
        tags=["health"],
        responses={503: {"model": LogHealth}},
    )
    async def log_health(request: Request) -> Any:
        """200 while the prediction log keeps up; 503 while predictions wait in the spool for
        its database, or the database is away. Serving goes on either way: /health/ready does
        not depend on it."""
        log = state_of(request).writer.status()
        status = "behind" if log.behind else "ok" if log.database_available else "unavailable"
        body = LogHealth(
            status=status,
            database_available=log.database_available,
            queue_depth=log.queue_depth,
            spool_records=log.spool.records,
            spool_bytes=log.spool.bytes,
            spool_max_bytes=log.spool.max_bytes,
            spool_oldest=log.spool.oldest,
            written=log.written,
            replayed=log.replayed,
            dropped=log.dropped,
            rejected=log.rejected,
        )
        return JSONResponse(
            body.model_dump(mode="json"), status_code=200 if status == "ok" else 503
        )

    @router.get(
        "/metrics",
        tags=["operations"],
        dependencies=[Depends(require_api_key)],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"model": ErrorResponse}},
    )
    async def metrics(request: Request) -> Response:
        """Prometheus metrics, named sentimentops_*."""
        registry = state_of(request).metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.post(
        "/admin/reload",
        response_model=ReloadResponse,
        tags=["operations"],
        dependencies=[Depends(require_api_key)],
        responses={status: {"model": ErrorResponse} for status in (401, 403, 503)},
    )
    async def reload(request: Request) -> dict[str, Any]:
        """Load the model the configured URI points at now and swap it in (needs the API key).

        A failed reload leaves the serving model in place and answers 503 with the reason.
        """
        state = state_of(request)
        if state.settings.api_key is None:
            raise ApiError(
                403,
                "Admin endpoints are off without an API key: set SENTIMENTOPS_API_KEY.",
            )
        # A folder keeps its version ("local") when rewritten: reload it unconditionally.
        force = not state.slot.uri.startswith("models:/")
        outcome = await asyncio.to_thread(state.slot.reload, force=force)
        state.metrics.reloads.labels(outcome.kind).inc()
        if outcome.kind == "failed":
            raise ApiError(503, f"Reload failed; still serving the previous model: {outcome.error}")
        return {
            "reloaded": outcome.kind == "swapped",
            "model": state.describe_model(),
            "error": None,
        }

    return router


def _identity(request: Request) -> ModelIdentity | None:
    model = state_of(request).slot.current
    return None if model is None else ModelIdentity(name=model.name, version=model.version)
