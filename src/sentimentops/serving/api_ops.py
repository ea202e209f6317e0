"""Operations endpoints: health probes, Prometheus metrics, and the admin reload."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from fastapi.types import DecoratedCallable
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from sentimentops.serving import schemas
from sentimentops.serving.deps import State, require_api_key
from sentimentops.serving.errors import ApiError
from sentimentops.serving.routing import GuardedRoute
from sentimentops.serving.state import ApiState
from sentimentops.tracking.loading import LoadedModel

__all__ = ["probe", "router"]

router = APIRouter(route_class=GuardedRoute)


def probe(
    on: APIRouter, path: str, **options: Any
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A health probe's GET route, answering HEAD too (load balancers probe with it: a 405 would
    read as down); the HEAD route stays out of the schema, where it would repeat the GET."""

    def register(endpoint: DecoratedCallable) -> DecoratedCallable:
        on.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
        return on.get(path, **options)(endpoint)

    return register


def _probe(path: str, body: type[BaseModel]) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A health probe's route: its 503 answer has the same body as its 200."""
    return probe(
        router, path, response_model=body, tags=["health"], responses={503: {"model": body}}
    )


@probe(router, "/health/live", tags=["health"])
async def live(state: State) -> schemas.Health:
    """The process answers. Never needs the API key."""
    return schemas.Health(status="ok", model=_identity(state.slot.current), rollout=_rollout(state))


@_probe("/health/ready", schemas.Health)
async def ready(state: State) -> Any:
    """200 once a model is loaded, 503 until then."""
    if state.slot.current is None:
        body = schemas.Health(
            status="loading", error=state.slot.last_error, rollout=_rollout(state)
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return await live(state)


@_probe("/health/log", schemas.LogHealth)
async def log_health(state: State) -> Any:
    """200 while the prediction log keeps up; 503 while predictions wait in the spool or its
    database is away. Serving goes on either way."""
    log = state.writer.status()
    status = "behind" if log.behind else "ok" if log.database_available else "unavailable"
    body = schemas.LogHealth(
        status=status,
        database_available=log.database_available,
        queue_depth=log.in_memory,  # the batch being written too: not in the log yet
        spool_records=log.spool.records,
        spool_bytes=log.spool.bytes,
        spool_max_bytes=log.spool.max_bytes,
        spool_oldest=log.spool.oldest,
        written=log.written,
        replayed=log.replayed,
        dropped=log.dropped,
        rejected=log.rejected,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if status == "ok" else 503)


@router.get(
    "/metrics",
    tags=["operations"],
    dependencies=[Depends(require_api_key)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"model": schemas.ErrorResponse}},
)
async def metrics(state: State) -> Response:
    """Prometheus metrics, named sentimentops_*."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post(
    "/admin/reload",
    tags=["operations"],
    dependencies=[Depends(require_api_key)],
    responses={status: {"model": schemas.ErrorResponse} for status in (401, 403, 503)},
)
async def reload(state: State) -> schemas.ReloadResponse:
    """Load the model the configured URI points at now and swap it in (needs the API key); a
    failed reload keeps the serving model and answers 503 with the reason."""
    if state.settings.api_key is None:
        raise ApiError(403, "Admin endpoints are off without an API key: set SENTIMENTOPS_API_KEY.")
    # A folder keeps its version ("local") when rewritten: reload it unconditionally.
    force = not state.slot.uri.startswith("models:/")
    outcome = await asyncio.to_thread(state.slot.reload, force=force)
    state.metrics.reloads.labels(outcome.kind).inc()
    if outcome.kind == "failed":
        raise ApiError(503, f"Reload failed; still serving the previous model: {outcome.error}")
    described = schemas.ModelDescription.model_validate(state.ready_model())
    return schemas.ReloadResponse(reloaded=outcome.kind == "swapped", model=described, error=None)


def _identity(model: LoadedModel | None) -> schemas.ModelIdentity | None:
    return None if model is None else schemas.ModelIdentity(name=model.name, version=model.version)


def _rollout(state: ApiState) -> schemas.Rollout | None:
    if (challenger := state.challenger) is None:
        return None
    serving = state.settings.serving
    model = state.challenger_model()
    note = None
    if model is None:
        loaded = challenger.slot.current
        if loaded is None:
            why = challenger.slot.last_error or "not loaded yet"
            note = f"no challenger at {challenger.slot.uri}: {why}"
        elif state.slot.current is not None:
            note = f"{challenger.slot.uri} names the champion itself (version {loaded.version})"
    return schemas.Rollout(
        shadow_share=serving.shadow_share,
        canary_share=serving.canary_share,
        challenger=_identity(model),
        shadow_queue_depth=challenger.shadow.queue_depth,
        shadow_dropped=challenger.shadow.dropped,
        note=note,
    )
