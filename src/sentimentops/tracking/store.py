"""Where tracking goes: resolve the tracking URI, configure MLflow, fail fast when unreachable."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from sentimentops.config import Settings
from sentimentops.errors import ModelNotFoundError, TrackingUnavailableError

__all__ = [
    "connect",
    "connect_registry",
    "mlflow_ui_command",
    "require_local_store",
    "resolve_tracking_uri",
    "sqlite_file",
]


def resolve_tracking_uri(settings: Settings) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``tracking.uri``, else SQLite under the home."""
    explicit = os.environ.get("MLFLOW_TRACKING_URI") or settings.tracking.uri
    return explicit or f"sqlite:///{settings.state_path('mlflow.db').resolve()}"


def connect_registry(settings: Settings, *, existing: bool = False) -> str:
    """Point MLflow at the tracking store and registry, without :func:`connect`'s experiment;
    returns the URI. TrackingUnavailableError: a server silent for ``tracking.timeout_seconds``.
    With ``existing`` (a reader), ModelNotFoundError when a local store is not there."""
    import mlflow

    uri = resolve_tracking_uri(settings)
    if existing:
        require_local_store(uri)
    timeout = settings.tracking.timeout_seconds
    # MLflow retries for minutes by default; a user waiting on a dead server wants an answer.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(timeout, 1))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    if uri.startswith(("http://", "https://")):
        _check_server(uri, timeout)
    elif (database := sqlite_file(uri)) is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def connect(settings: Settings) -> str:
    """Point MLflow at the tracking store and select the experiment; returns the URI.
    TrackingUnavailableError as :func:`connect_registry`, or when the store refuses it."""
    import mlflow

    uri = connect_registry(settings)
    name = settings.tracking.experiment
    try:
        if mlflow.get_experiment_by_name(name) is None:
            local_store = not uri.startswith(("http://", "https://"))
            artifacts = settings.tracking.artifact_location or (
                settings.state_path("mlartifacts").resolve().as_uri()
            )
            mlflow.create_experiment(name, artifact_location=artifacts if local_store else None)
        mlflow.set_experiment(name)
    except mlflow.exceptions.MlflowException as error:
        raise TrackingUnavailableError(
            f"MLflow tracking store {uri} refused the experiment {name!r}: {error}"
        ) from None
    return uri


def require_local_store(uri: str) -> None:
    """ModelNotFoundError when ``uri`` is a SQLite store that does not exist: connecting would
    create an empty one (1 MB, seconds of migrations) wherever a reader was run from."""
    store = sqlite_file(uri)
    if store is not None and not store.exists():
        raise ModelNotFoundError(
            f"No model registry at {store}. Train a model first (make run, or sentimentops "
            "train), or run from the folder holding .sentimentops (or set SENTIMENTOPS_HOME, "
            "or MLFLOW_TRACKING_URI to the store)."
        )


def sqlite_file(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store URI (without a ``?timeout=...`` query), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").partition("?")[0]).absolute()


def mlflow_ui_command(uri: str) -> str:
    """The command that browses ``uri``: this environment's ``mlflow``, which a shell outside
    it does not find by name."""
    return f"{Path(sys.executable).parent / 'mlflow'} ui --backend-store-uri {uri}"


def _check_server(uri: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise TrackingUnavailableError(
        f"MLflow tracking server {uri} is unreachable ({problem}). Start it (mlflow server "
        "--host 127.0.0.1 ...), fix MLFLOW_TRACKING_URI, or unset it to use the local "
        "SQLite store under SENTIMENTOPS_HOME."
    )
