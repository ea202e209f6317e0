"""The FastAPI application: ``create_app()`` wires settings, model, batcher, log and routes
(``uvicorn sentimentops.serving.app:create_app --factory`` runs it)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from sentimentops import __version__
from sentimentops.config import Settings, get_settings
from sentimentops.prediction_log import PredictionLogStore, PredictionLogWriter
from sentimentops.serving import api_ops, api_v1, api_v2
from sentimentops.serving.background import cancel
from sentimentops.serving.batcher import MicroBatcher
from sentimentops.serving.errors import install_error_handlers
from sentimentops.serving.metrics import ApiMetrics
from sentimentops.serving.middleware import RequestGuard
from sentimentops.serving.model import ModelSlot
from sentimentops.serving.schemas import publish_limits
from sentimentops.serving.shadow import ShadowScorer
from sentimentops.serving.state import ApiState, Challenger, RecentRequestIds

__all__ = ["create_app", "docs_exposed"]

log = logging.getLogger(__name__)

ROUTERS = (api_v1.router, api_v2.router, api_ops.router)


class _Api(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """The schema FastAPI builds, with the limits of this app's settings."""
        if self.openapi_schema is None:
            schema = super().openapi()
            publish_limits(schema["components"]["schemas"], self.state.api.settings.serving)
        return super().openapi()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment); nothing loads until it starts."""
    settings = settings or get_settings()
    serving, logged = settings.serving, settings.prediction_log
    slot = ModelSlot(serving.model_uri)
    store = PredictionLogStore(logged.resolved_url(settings.home))
    writer = PredictionLogWriter.from_settings(store, logged, settings.home)
    batcher = MicroBatcher(
        lambda: slot.current,
        max_size=serving.micro_batch_max_size,
        max_wait_seconds=serving.micro_batch_wait_ms / 1000,
    )
    # Every record the writer may hold unwritten: queued, or in the batch being written.
    answered = RecentRequestIds(capacity=logged.queue_size + logged.batch_size)
    metrics = ApiMetrics(
        log_status=writer.status,
        served_model=lambda: _loaded_models(state),
        shadow_status=lambda: _shadow_status(state),
    )
    state = ApiState(settings, slot, batcher, store, writer, metrics, answered)
    if serving.shadow_share > 0 or serving.canary_share > 0:
        state.challenger = _challenger(state)

    docs = docs_exposed(settings)
    app = _Api(
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
    for router in ROUTERS:
        app.include_router(router)
    if serving.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=serving.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID", "X-Client-ID"],
        )
    # Every route with a path template: the app lists an included router as one opaque entry.
    routes = [*app.router.routes, *(route for router in ROUTERS for route in router.routes)]
    app.add_middleware(
        RequestGuard,
        metrics=metrics,
        routes=[route for route in routes if isinstance(route, Route)],
        max_body_bytes=serving.max_body_bytes,
        max_concurrency=serving.max_concurrency,
    )
    return app


def _challenger(state: ApiState) -> Challenger:
    serving = state.settings.serving
    slot = ModelSlot(serving.challenger_uri, optional=True, role="challenger")
    shadow = ShadowScorer(
        state.challenger_model,
        # Only while no champion (or canary) request waits: the challenger takes idle time.
        champion_busy=lambda: state.batcher.waiting or batcher.waiting,
        champion_last_scored=lambda: max(state.batcher.last_scored, batcher.last_scored),
        on_scored=state.log_shadow,
        capacity=serving.shadow_queue_size,
        busy_budget=serving.shadow_busy_budget,
    )
    batcher = MicroBatcher(
        state.challenger_model,
        max_size=serving.micro_batch_max_size,
        max_wait_seconds=serving.micro_batch_wait_ms / 1000,
    )
    return Challenger(slot, batcher, shadow)


def _loaded_models(state: ApiState) -> list[tuple[str, str, str]]:
    """(name, version, role) of the champion and the challenger in play, for /metrics."""
    roles = ((state.slot.current, "champion"), (state.challenger_model(), "challenger"))
    return [(model.name, model.version, role) for model, role in roles if model is not None]


def _shadow_status(state: ApiState) -> tuple[int, int, int, int]:
    if state.challenger is None:
        return 0, 0, 0, 0
    shadow = state.challenger.shadow
    return shadow.queue_depth, shadow.scored, shadow.dropped, shadow.failed


def docs_exposed(settings: Settings) -> bool:
    """Whether the API serves ``/docs``, ``/redoc`` and ``/openapi.json``: ``serving.expose_docs``,
    or when unset, only without an API key."""
    chosen = settings.serving.expose_docs
    return chosen if chosen is not None else settings.api_key is None


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the log writer, batchers and model pollers (the model loads in the background);
    on shutdown stop them and flush the log."""
    state: ApiState = app.state.api
    try:
        await asyncio.to_thread(state.store.migrate)
    except Exception as error:  # the API serves without its log rather than not at all
        state.writer.note_unavailable()  # /health/log: "unavailable", not "ok", until it answers
        log.error(
            "prediction log unavailable at start-up (%s); predictions are served, and "
            "logged once it answers",
            error,
        )
    state.writer.start()
    state.batcher.start()
    pollers = [asyncio.create_task(_keep_model_current(state), name="model-poller")]
    if (challenger := state.challenger) is not None:
        challenger.batcher.start()
        challenger.shadow.start()
        pollers.append(asyncio.create_task(_keep_challenger_current(state), name="challenger"))
    try:
        yield
    finally:
        for poller in pollers:
            await cancel(poller)
        await state.batcher.stop()
        if challenger is not None:
            await challenger.batcher.stop()
            await challenger.shadow.stop()
        if unflushed := await asyncio.to_thread(state.writer.close):
            log.warning("%d predictions could not be written to the prediction log", unflushed)
        state.store.dispose()


async def _keep_model_current(state: ApiState) -> None:
    """Load the model now, then follow its alias every ``reload_interval_seconds``."""
    interval = state.settings.serving.reload_interval_seconds
    for attempt in itertools.count():
        outcome = await asyncio.to_thread(state.slot.reload)
        if attempt:  # the first load is start-up, not a reload
            state.metrics.reloads.labels(outcome.kind).inc()
        if state.slot.current is None:
            await asyncio.sleep(min(interval or 5.0, 5.0))  # no model yet: keep trying
        elif interval:
            await asyncio.sleep(interval)
        else:
            return


async def _keep_challenger_current(state: ApiState) -> None:
    """Follow the challenger alias like the champion's; log when the rollout starts or stops."""
    assert state.challenger is not None
    serving = state.settings.serving
    interval = serving.reload_interval_seconds
    was: str | None = "nothing yet"
    while True:
        champion = state.slot.current
        await asyncio.to_thread(
            state.challenger.slot.reload, unless_at=champion.location if champion else None
        )
        challenger = state.challenger_model()
        now = None if challenger is None else f"{challenger.name} version {challenger.version}"
        if state.slot.current is None:  # "apart from the champion" is not known yet
            await asyncio.sleep(1.0)
            continue
        if now != was and now is not None:
            log.info(
                "rollout: challenger %s scores %g%% of requests in shadow and answers %g%% of "
                "clients (canary)",
                *(now, serving.shadow_share * 100, serving.canary_share * 100),
            )
        elif now != was:
            log.info(
                "rollout: no challenger apart from the champion at %s; the champion answers "
                "everything",
                serving.challenger_uri,
            )
        was = now
        if not interval:
            return
        await asyncio.sleep(interval)
