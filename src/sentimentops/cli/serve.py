"""``sentimentops serve``: the real-time prediction API on uvicorn."""

from __future__ import annotations

import errno
import os
import socket

import typer

from sentimentops.cli.output import console, workers_within_cores
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError, SentimentOpsError

__all__ = ["check_can_listen", "serve_command"]


def serve_command(
    host: str | None = typer.Option(None, "--host", help="Default: serving.host (127.0.0.1)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Default: serving.port (8000)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Registry URI or local model folder (models:/imdb-sentiment@champion).",
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        callback=workers_within_cores,
        help="Processes, each with the model (at most 4 per core).",
    ),
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
    settings = get_settings()
    host = host or settings.serving.host
    port = port if port is not None else settings.serving.port
    # First, before seconds of imports and the model check: a busy port is told at once.
    check_can_listen(host, port)

    from sentimentops.tracking.loading import fetched, loading_ahead, prefetch, require_model_folder

    uri = model or settings.serving.model_uri
    if not wait_for_model:
        prefetch(uri)  # the registry lookup runs on the other core while the server imports
    import sentimentops.models.sentiment  # noqa: F401  # scikit-learn, which a fork hands over

    if not wait_for_model and workers == 1:  # N workers load their own
        prefetch(uri, load=True)  # loaded there, after a remembered lookup, while this imports

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE

    from sentimentops.serving.app import create_app, docs_exposed

    serving = settings.serving.model_copy(update={"model_uri": uri})
    # Built even for N workers (which build their own): a bad setting exits 2 now, not in each.
    app = create_app(settings.model_copy(update={"serving": serving}))
    if wait_for_model and uri.startswith("models:/"):
        # The app polls until it exists; a folder is still checked: nothing would create a typo.
        version = "not loaded yet: ready once it exists"
    else:
        from sentimentops.tracking.flavor import import_skops

        if not loading_ahead(uri):
            import_skops()  # the model's libraries load while the lookup runs
        with console.status(f"Checking {uri}"):  # fails fast, exit 2, when there is no model
            version = fetched(uri).version if uri.startswith("models:/") else "local"
            if version == "local":
                require_model_folder(uri)
    docs = "; docs at /docs" if docs_exposed(settings) else ""
    # Port 0 is the system's pick, made when uvicorn binds: its "Uvicorn running on" names it.
    where = f"http://{host}:{port}" if port else f"a free port of {host}"
    named = "" if port else " (uvicorn's line below names it)"
    console.print(f"Serving {uri} (version {version}) on {where}{named}{docs}")
    if model is not None and workers > 1:
        # Each worker process builds its app from the environment: pass the option that way.
        os.environ["SENTIMENTOPS_SERVING__MODEL_URI"] = model
    try:
        uvicorn.run(
            app if workers == 1 else "sentimentops.serving.app:create_app",
            factory=workers > 1,
            host=host,
            port=port,
            workers=workers,
            timeout_graceful_shutdown=30,
            access_log=False,
            log_level="info",
            # The API's own lines (model loaded, rollout started or stopped) beside uvicorn's.
            log_config=LOGGING_CONFIG
            | {
                "loggers": LOGGING_CONFIG["loggers"]
                | {"sentimentops": {"handlers": ["default"], "level": "INFO", "propagate": False}}
            },
        )
    except SystemExit as stopped:
        # uvicorn exits with 3 when the server fails to start; 3 means a monitoring alert here.
        if stopped.code != STARTUP_FAILURE:
            raise
        raise SentimentOpsError(
            f"The API did not start on {where}; the reason is logged above."
        ) from None


def check_can_listen(host: str, port: int, server: str = "the API") -> None:
    """Bind ``host:port`` as uvicorn will, and let go at once; BadInputError naming ``server``
    when the port is taken or the host is not this machine's."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise BadInputError(
            f"Cannot serve on host {host!r}: {error.strerror}. Pass an address or name of this "
            "machine with --host (127.0.0.1, or 0.0.0.0 for every interface)."
        ) from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio binds it: IPv6 only, beside the IPv4 one
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise BadInputError(_cannot_listen(host, port, error, server)) from None


def _cannot_listen(host: str, port: int, error: OSError, server: str) -> str:
    where = f"http://{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"Port {port} is already in use on {host}, so {server} cannot serve on {where}. "
            "Stop what holds it, or pick another port with --port."
        )
    return f"Cannot serve on {where}: {error.strerror}. Pick another --host or --port."
