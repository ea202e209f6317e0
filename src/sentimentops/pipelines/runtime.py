"""What every flow shares: where Prefect keeps its state, the one Prefect API of a run, task
options from settings, and how a task's outcome (ran or cached) is read back for the summary.

Prefect reads its settings when first imported, so :func:`configure_prefect` runs before any
flow module is imported (the ``pipeline`` command does this).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sentimentops.config import Settings

__all__ = [
    "Laps",
    "champion_uri",
    "configure_prefect",
    "configured_prefect_api",
    "io_task_options",
    "prefect_api",
    "result_storage",
    "retry_unless_bad_input",
    "state_label",
]

STARTUP_SECONDS = "180"


class Laps:
    """Wall seconds of a flow's steps, each from the end of the one before: the time table of
    a run's summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._since = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self._since, 1)
        self._since = now


def configure_prefect(settings: Settings) -> None:
    """Keep Prefect's state beside the project's (``$SENTIMENTOPS_HOME/prefect``) and offline.

    Values the user already set win: ``PREFECT_HOME``, and ``PREFECT_API_URL`` (a Prefect server;
    without it each run starts a temporary local API).
    """
    default_home = str(settings.state_path("prefect").resolve())
    home = Path(os.environ.setdefault("PREFECT_HOME", default_home))
    home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last folder itself
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Flow logs are the progress display; MLflow's download bars would interleave with them.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # The temporary local API needs more than the default 20 s to start on a fresh home (it
    # creates and migrates its database) on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_SECONDS)


def configured_prefect_api() -> str | None:
    """The Prefect API set for this process (``PREFECT_API_URL``, a profile, a test harness);
    None when there is none, and :func:`prefect_api` starts a temporary one."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


@contextlib.contextmanager
def prefect_api(*, link_runs: bool = False) -> Iterator[str]:
    """The Prefect API the flows of this block report to, also exported as ``PREFECT_API_URL``
    so task-runner processes (a process pool, Dask workers) report to the same one.

    The configured API (``PREFECT_API_URL``, a profile, a test harness) when there is one;
    otherwise a temporary local API started here for the whole block and stopped after it.
    Prefect would start one per process by itself: each worker process would pay for its own
    startup and record its task runs where no one looks. Flow runs on a temporary API are
    logged without Prefect's link to their page, unless ``link_runs`` (the API outlives them,
    as when serving schedules).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    configured = configured_prefect_api()
    exported = os.environ.get("PREFECT_API_URL")
    if configured:
        os.environ["PREFECT_API_URL"] = configured
        try:
            yield configured
        finally:
            _restore_env("PREFECT_API_URL", exported)
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    timeout = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_SECONDS)
    server.start(timeout=int(timeout))
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        # Prefect logs a "View at <link>" per flow run: a dead link once a run command ends.
        ui_url = {} if link_runs else {PREFECT_UI_URL: ""}
        with temporary_settings({PREFECT_API_URL: server.api_url, **ui_url}):
            yield server.api_url
    finally:
        _drain_to_api()  # queued logs and events, while the API still answers
        _restore_env("PREFECT_API_URL", exported)
        server.stop()


def _drain_to_api() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def io_task_options(settings: Settings) -> dict[str, Any]:
    """Retries with exponential backoff and a time limit, for tasks that touch files, S3 or the
    tracking store (where a second attempt often succeeds); bad input is not retried."""
    pipeline = settings.pipeline
    return {
        "retries": pipeline.retries,
        "retry_delay_seconds": [
            pipeline.retry_delay_seconds * 2**attempt for attempt in range(pipeline.retries)
        ]
        or 0,
        "timeout_seconds": pipeline.io_timeout_seconds,
        "retry_condition_fn": retry_unless_bad_input,
    }


def retry_unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: False for an error with exit code 2 (bad input, an
    unknown model) or 4 (a batch over its reject limit): the same input fails the same way
    again. True for anything else (an outage may pass)."""
    from sentimentops.errors import SentimentOpsError

    error = state.data if isinstance(state.data, BaseException) else None
    return not (isinstance(error, SentimentOpsError) and error.exit_code in (2, 4))


def result_storage(settings: Settings) -> Path:
    """Where cached task results live: reused by later runs with the same cache key."""
    path = settings.state_path("cache", "prefect-results").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_label(state: Any) -> str:
    """ "cached" when Prefect reused a stored result, else "ran"."""
    return "cached" if getattr(state, "name", "") == "Cached" else "ran"


def champion_uri(settings: Settings) -> str:
    """``models:/<registered model>@champion``: what the flows use unless told otherwise."""
    return f"models:/{settings.registry.model_name}@champion"
