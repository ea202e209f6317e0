"""The FastAPI application: ``create_app()`` wires settings, model, batcher, log and routes.

Start-up (``lifespan``) begins loading the model in the background, so liveness answers at
once and readiness turns 200 when the model is in; it starts the prediction-log writer and the
reload poller. Shutdown (uvicorn finishes in-flight requests first on SIGTERM) stops the poller
and the batcher and flushes the prediction log.

``uvicorn sentimentops.serving.app:create_app --factory`` runs it with settings from the
environment; ``sentimentops serve`` does that for you.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from sentimentops import __version__
from sentimentops.config import Settings, get_settings
from sentimentops.prediction_log import PredictionLogStore, PredictionLogWriter
from sentimentops.serving.api_ops import build_ops_router
from sentimentops.serving.api_v1 import build_v1_router
from sentimentops.serving.api_v2 import build_v2_router
from sentimentops.serving.batcher import MicroBatcher
from sentimentops.serving.errors import install_error_handlers
from sentimentops.serving.metrics import ApiMetrics
from sentimentops.serving.middleware import RequestGuard
from sentimentops.serving.model import ModelSlot
from sentimentops.serving.schemas import request_models
from sentimentops.serving.state import ApiState, RecentRequestIds

__all__ = ["create_app", "docs_exposed"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment). Nothing is loaded until the
    app starts."""
    settings = settings or get_settings()
    serving = settings.serving
    slot = ModelSlot(serving.model_uri)
    store = PredictionLogStore(settings.prediction_log.resolved_url(settings.home))
    writer = PredictionLogWriter.from_settings(store, settings.prediction_log, settings.home)
    metrics = ApiMetrics(
        log_status=writer.status,
        served_model=lambda: (
            None if slot.current is None else (slot.current.name, slot.current.version)
        ),
    )
    batcher = MicroBatcher(
        lambda: slot.current,
        max_size=serving.micro_batch_max_size,
        max_wait_seconds=serving.micro_batch_wait_ms / 1000,
    )
    # Covers every record the writer may hold unwritten (queued, or in the batch being written).
    answered = RecentRequestIds(
        capacity=settings.prediction_log.queue_size + settings.prediction_log.batch_size
    )
    state = ApiState(settings, slot, batcher, store, writer, metrics, answered)

    docs = docs_exposed(settings)
    app = FastAPI(
        title="sentimentops",
        version=__version__,
        summary="Sentiment of movie reviews: predictions, feedback, model, health, metrics.",
        lifespan=_lifespan,
        # Off, they are not routes at all: 404, like any path the API does not have.
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.api = state
    install_error_handlers(app)
    single_request, batch_request = request_models(serving.max_text_chars, serving.max_batch_size)
    routers = [
        build_v1_router(single_request, batch_request),
        build_v2_router(serving.max_batch_size, serving.max_text_chars),
        build_ops_router(),
    ]
    for router in routers:
        app.include_router(router)
    if serving.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=serving.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
        )
    app.add_middleware(
        RequestGuard,
        metrics=metrics,
        routes=_routes_with_paths(app, routers),
        max_body_bytes=serving.max_body_bytes,
        max_concurrency=serving.max_concurrency,
    )
    return app


def docs_exposed(settings: Settings) -> bool:
    """Whether the API serves ``/docs``, ``/redoc`` and ``/openapi.json`` (without a key):
    ``serving.expose_docs``, or when unset, only while no API key guards the API."""
    chosen = settings.serving.expose_docs
    return chosen if chosen is not None else settings.api_key is None


def _routes_with_paths(app: FastAPI, routers: list[APIRouter]) -> list[Route]:
    """Every route with a path template: the app's own (``/docs``) and the included routers'
    (the app lists each included router as one opaque entry)."""
    candidates = [*app.router.routes, *(route for router in routers for route in router.routes)]
    return [route for route in candidates if isinstance(route, Route)]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ApiState = app.state.api
    try:
        await asyncio.to_thread(state.store.migrate)
    except Exception as error:  # the API serves without its log rather than not at all
        log.error(
            "prediction log unavailable at start-up (%s); predictions are served, and "
            "logged once it answers",
            error,
        )
    state.writer.start()
    state.batcher.start()
    poller = asyncio.create_task(_keep_model_current(state), name="model-poller")
    try:
        yield
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await state.batcher.stop()
        unflushed = await asyncio.to_thread(state.writer.close)
        if unflushed:
            log.warning("%d predictions could not be written to the prediction log", unflushed)
        state.store.dispose()


async def _keep_model_current(state: ApiState) -> None:
    """Load the model now, then follow its alias every ``reload_interval_seconds``."""
    interval = state.settings.serving.reload_interval_seconds
    first = True
    while True:
        outcome = await asyncio.to_thread(state.slot.reload)
        if not first:  # the first load is start-up, not a reload
            state.metrics.reloads.labels(outcome.kind).inc()
        first = False
        if state.slot.current is None:
            await asyncio.sleep(min(interval or 5.0, 5.0))  # no model yet: keep trying
        elif interval:
            await asyncio.sleep(interval)
        else:
            return
