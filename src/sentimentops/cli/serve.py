"""``sentimentops serve``: the real-time prediction API on uvicorn."""

from __future__ import annotations

import os

import typer

from sentimentops.cli.output import console
from sentimentops.config import get_settings

__all__ = ["serve_command"]


def serve_command(
    host: str | None = typer.Option(None, "--host", help="Default: serving.host (127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Default: serving.port (8000)."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Registry URI or local model folder (models:/imdb-sentiment@champion).",
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes, each with the model."),
    wait_for_model: bool = typer.Option(
        False,
        "--wait-for-model",
        help="Start even if the model does not exist yet; ready once it appears (a stack "
        "started before its first training).",
    ),
) -> None:
    """Serve predictions over HTTP: /v1 (JSON), /v2 (Open Inference Protocol), /health,
    /metrics. Set SENTIMENTOPS_API_KEY to require an X-API-Key header. Stops gracefully on
    SIGTERM: in-flight requests finish and the prediction log is flushed."""
    import uvicorn

    from sentimentops.serving.model import resolved_version

    settings = get_settings()
    uri = model or settings.serving.model_uri
    if wait_for_model and uri.startswith("models:/"):
        # The app polls for its model (serving.reload_interval_seconds, at most 5 s apart while
        # it has none) and answers /health/ready with 503 until it is loaded. A local folder
        # is checked still: nothing would ever create a mistyped one.
        version = "not loaded yet: ready once it exists"
    else:
        if uri.startswith("models:/"):
            from sentimentops.tracking.store import connect

            connect(settings)
        with console.status(f"Checking {uri}"):
            version = resolved_version(uri)  # fails fast, exit 2, when there is no such model
    if model is not None:
        # Every worker process builds its app from the environment: pass the option that way,
        # and forget the settings built before it (with one worker, the app is built here).
        os.environ["SENTIMENTOPS_SERVING__MODEL_URI"] = model
        get_settings.cache_clear()
    console.print(
        f"Serving {uri} (version {version}) on http://{host or settings.serving.host}:"
        f"{port or settings.serving.port}; docs at /docs"
    )
    uvicorn.run(
        "sentimentops.serving.app:create_app",
        factory=True,
        host=host or settings.serving.host,
        port=port if port is not None else settings.serving.port,
        workers=workers,
        timeout_graceful_shutdown=30,
        access_log=False,
        log_level="info",
    )
