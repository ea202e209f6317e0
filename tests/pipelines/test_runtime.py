"""Task options shared by the flows, on real flow runs: what is retried and what is not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError, RejectLimitExceededError, StorageUnavailableError
from sentimentops.pipelines.runtime import io_task_options

attempted: list[str] = []
ERRORS = {
    "bad input": BadInputError("The input has no review column: name it with --text-column."),
    "storage": StorageUnavailableError("The object store failed: retry."),
    "rejects": RejectLimitExceededError("30 of 100 rows rejected, above --max-reject-rate."),
}


@task(cache_policy=NO_CACHE)
def failing(kind: str) -> None:
    attempted.append(kind)
    raise ERRORS[kind]


@flow
def run_failing(kind: str) -> None:
    failing.with_options(**io_task_options(get_settings()))(kind)


@pytest.mark.parametrize(
    ("kind", "error", "attempts"),
    [
        ("bad input", BadInputError, 1),
        ("rejects", RejectLimitExceededError, 1),
        ("storage", StorageUnavailableError, None),
    ],
)
def test_bad_input_is_not_retried_and_an_unavailable_store_is(
    kind: str, error: type[Exception], attempts: int | None
) -> None:
    retries = get_settings().pipeline.retries
    assert retries >= 1
    attempted.clear()

    with pytest.raises(error):
        run_failing(kind)

    assert attempted == [kind] * (attempts or retries + 1)


def test_a_failure_while_the_temporary_api_starts_stops_it(tmp_path: Path) -> None:
    """In a process of its own, as the ``pipeline`` command runs it (no API configured): the
    error of ``while_starting`` is raised, and the temporary API it overlapped is stopped."""
    script = """
import os, socket, sys
from sentimentops.config import get_settings
from sentimentops.pipelines import runtime
runtime.configure_prefect(get_settings())
from prefect.server.api.server import SubprocessASGIServer
def failing():
    raise ValueError("flows failed to import")
try:
    with runtime.prefect_api(while_starting=failing):
        pass
except ValueError as error:
    server = SubprocessASGIServer()
    print("raised:", error, "| stopped:", server.server_process is None and not server.running)
"""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")
    }
    environment["SENTIMENTOPS_HOME"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert "raised: flows failed to import | stopped: True" in completed.stdout


def test_a_failed_run_logs_our_error_without_its_traceback_and_others_with_it(
    tmp_path: Path,
) -> None:
    """Prefect logged a run's BadInputError with 30 lines of traceback above the CLI's one-line
    message. In a process of its own: the filter is set before Prefect configures logging."""
    script = """
import logging
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.pipelines import runtime
runtime.configure_prefect(get_settings())
import prefect  # configures its logging
for name in ("prefect.flow_runs", "prefect.task_runs"):
    for error in (BadInputError("ours"), RuntimeError("a bug")):
        try:
            raise error
        except Exception:
            logging.getLogger(name).exception("Encountered exception: %r", error)
"""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")
    }
    environment |= {"SENTIMENTOPS_HOME": str(tmp_path), "PREFECT_LOGGING_TO_API_ENABLED": "false"}
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    logged = completed.stdout + completed.stderr
    assert logged.count("Encountered exception: BadInputError('ours')") == 2, logged
    assert logged.count("Encountered exception: RuntimeError('a bug')") == 2, logged
    assert logged.count("Traceback (most recent call last)") == 2, logged  # the bug's only
    assert "RuntimeError: a bug" in logged
