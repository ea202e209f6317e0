"""What every flow shares: Prefect's state and API, task options, timings. Prefect reads its
settings at import: :func:`configure_prefect` runs before any flow module is imported."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from sentimentops.config import Settings
from sentimentops.errors import BadInputError, SentimentOpsError
from sentimentops.helper_process import sigterm_as_exit

__all__ = [
    "Laps",
    "champion_uri",
    "configure_prefect",
    "configured_prefect_api",
    "io_task_options",
    "log_window",
    "prefect_api",
    "result_storage",
    "retry_unless_bad_input",
    "state_label",
]

STARTUP_SECONDS = "180"


class Laps:
    """Wall seconds of a flow's steps, each from the end of the one before, and how each ran
    (ran, cached, reused): the tables of a run's summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.steps: dict[str, str] = {}
        self._since = time.perf_counter()

    def lap(self, step: str, how: str | None = None) -> None:
        """End ``step`` now; ``how`` it ran, when it is a step worth naming in the summary."""
        now = time.perf_counter()
        self.seconds[step] = round(now - self._since, 1)
        self._since = now
        if how is not None:
            self.steps[step] = how


def configure_prefect(settings: Settings) -> None:
    """Keep Prefect's state beside the project's (``$SENTIMENTOPS_HOME/prefect``) and offline;
    values the user set win (``PREFECT_HOME``, ``PREFECT_API_URL``)."""
    default_home = str(settings.state_path("prefect").resolve())
    home = Path(os.environ.setdefault("PREFECT_HOME", default_home))
    home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last folder itself
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Flow logs are the progress display; MLflow's download bars would interleave with them.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # A fresh home's temporary API creates its database: over the default 20 s on 2 busy cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_SECONDS)
    for name in ("prefect.flow_runs", "prefect.task_runs"):  # Prefect's logging config keeps it
        run_logger = logging.getLogger(name)
        if not any(isinstance(known, _OurErrorsUntraced) for known in run_logger.filters):
            run_logger.addFilter(_OurErrorsUntraced())


class _OurErrorsUntraced(logging.Filter):
    """Prefect logs a failed run's exception with its traceback. Ours say what to do, and the
    CLI prints that last: their traceback only buries it. Any other keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SentimentOpsError):
            record.exc_info = record.exc_text = None
        return True


def configured_prefect_api() -> str | None:
    """The Prefect API set for this process (``PREFECT_API_URL``, a profile, a test harness);
    None when :func:`prefect_api` starts a temporary one."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


@contextlib.contextmanager
def prefect_api(
    *, link_runs: bool = False, while_starting: Callable[[], object] | None = None
) -> Iterator[str]:
    """The configured Prefect API, else a temporary one for the block (docs/decisions.md,
    Training), exported to task-runner processes; ``while_starting`` runs while it starts.
    Without ``link_runs`` (the API outlives the runs), runs on a temporary API log no links."""
    configured = configured_prefect_api()
    exported = os.environ.get("PREFECT_API_URL")
    if configured:
        if while_starting is not None:
            while_starting()
        os.environ["PREFECT_API_URL"] = configured
        try:
            yield configured
        finally:
            _restore_env("PREFECT_API_URL", exported)
        return
    with sigterm_as_exit():  # a `kill` of the command stops the server too
        yield from _temporary_prefect_api(link_runs, while_starting, exported)


def _temporary_prefect_api(
    link_runs: bool, while_starting: Callable[[], object] | None, exported: str | None
) -> Iterator[str]:
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    server = SubprocessASGIServer()
    timeout = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_SECONDS)
    # The wait for the server's health check runs in a thread: it mostly sleeps.
    with ThreadPoolExecutor(1, thread_name_prefix="prefect-api") as starting:
        started = starting.submit(server.start, timeout=int(timeout))
        try:
            if while_starting is not None:
                while_starting()
            started.result()  # the start's failure, or a SIGTERM while it is awaited
        except BaseException:
            with contextlib.suppress(Exception):
                started.result()
            server.stop()
            raise
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        # Prefect logs a "View at <link>" per flow run: a dead link once a run command ends.
        ui_url = {} if link_runs else {PREFECT_UI_URL: ""}
        with temporary_settings({PREFECT_API_URL: server.api_url, **ui_url}):
            yield server.api_url
    finally:
        try:
            _drain_to_api()  # queued logs and events, while the API still answers
        finally:  # stopped even when a second SIGTERM cuts the drain short
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
    tracking store; bad input is not retried."""
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
    """Prefect's ``retry_condition_fn``: no retry of an error with exit code 2 (bad input) or 4
    (a batch over its reject limit), which the same input raises again; an outage may pass."""
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


def log_window(hours: float | None, default_hours: float) -> timedelta:
    """``hours`` (else ``default_hours``) as a window; BadInputError unless it is a number
    above 0 that a date can reach back."""
    if hours is None:
        hours = default_hours
    elif not hours > 0:  # NaN too
        raise BadInputError(
            f"--hours {hours:g} is not a window: give a number of hours above 0, or leave it out "
            "for pipeline.monitoring_window_hours."
        )
    try:
        return timedelta(hours=hours)
    except OverflowError:
        raise BadInputError(
            f"--hours {hours:g} reaches further back than a date can: give fewer hours."
        ) from None
