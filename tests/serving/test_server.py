"""The API as users run it: `sentimentops serve` on a free port, against a real registry.

Covers the hot swap of the champion under load (zero failed requests) and the graceful
shutdown on SIGTERM (everything answered is in the prediction log).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentimentops.config import get_settings
from sentimentops.prediction_log import PredictionLogStore
from tests.servers import free_port, wait_for

CLI = str(Path(sys.executable).parent / "sentimentops")
TEXT = "A wonderful, moving film with superb acting. I loved every minute of it."
KEY = "test-admin-key"


@pytest.fixture
def registry_with_two_versions(model_folder: Path) -> list[str]:
    """imdb-sentiment versions 1 and 2 in the test's own SQLite registry; 1 is champion."""
    import mlflow

    from sentimentops.tracking.flavor import load_pipeline, log_model
    from sentimentops.tracking.registry import promote
    from sentimentops.tracking.store import connect

    connect(get_settings())
    pipeline = load_pipeline(str(model_folder))
    versions = []
    for _ in range(2):
        with mlflow.start_run():
            info = log_model(pipeline, name="model", registered_model_name="imdb-sentiment")
        versions.append(str(info.registered_model_version))
    promote("imdb-sentiment", versions[0])
    return versions


@pytest.fixture
def server(
    registry_with_two_versions: list[str], tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = os.environ | {
        "SENTIMENTOPS_SERVING__RELOAD_INTERVAL_SECONDS": "0.5",
        "SENTIMENTOPS_API_KEY": KEY,
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health/ready", process)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


class Load:
    """Threads posting predictions until stopped; records (status, version) of every answer."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.results: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._post) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _post(self) -> None:
        with httpx.Client(base_url=self.url, headers={"X-API-Key": KEY}, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/v1/predict", json={"text": TEXT})
                    version = response.json().get("model", {}).get("version", "")
                except (httpx.TransportError, ValueError) as error:
                    # Recorded, never swallowed: a dead load thread would hide failures.
                    with self._lock:
                        self.errors.append(repr(error))
                    continue
                with self._lock:
                    self.results.append((response.status_code, version))

    def wait_for_version(self, version: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(v == version for _, v in self.results[-20:]):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"no answer from version {version} within {timeout} s")


def test_champion_moves_under_load_with_zero_failed_requests(
    server: tuple[str, subprocess.Popen[bytes]], registry_with_two_versions: list[str]
) -> None:
    from sentimentops.tracking.registry import promote, rollback

    url, _ = server
    first, second = registry_with_two_versions
    with Load(url) as load:
        load.wait_for_version(first)
        promote("imdb-sentiment", second)  # the poller notices within 0.5 s
        load.wait_for_version(second)
        time.sleep(0.5)

    assert load.errors == []
    assert {status for status, _ in load.results} == {200}
    versions = [version for _, version in load.results]
    assert versions.count(first) > 0
    assert versions.count(second) > 0
    # Once the new model answers, the old one never does again (per client, in order).
    assert first not in versions[versions.index(second) + 4 * 2 :]

    # The admin endpoint reloads at once, without waiting for the poller.
    rollback("imdb-sentiment")
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}) as client:
        body = client.post("/admin/reload").json()
        assert body["model"]["version"] == first
        assert client.get("/v1/model").json()["alias"] == "champion"


def test_sigterm_finishes_in_flight_requests_and_flushes_the_log(
    server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, process = server
    with Load(url, threads=4) as load:
        time.sleep(2.0)
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: the exit status says
        # "terminated by SIGTERM", as for any well-behaved process.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    log = (tmp_path / "server.log").read_text()
    assert "Waiting for application shutdown" in log
    assert "Application shutdown complete" in log
    answered = sum(1 for status, _ in load.results if status == 200)
    assert answered > 0
    assert {status for status, _ in load.results} == {200}

    settings = get_settings()
    store = PredictionLogStore(settings.prediction_log.resolved_url(settings.home))
    try:
        assert store.count_predictions() == answered
    finally:
        store.dispose()


def test_serve_with_a_model_folder(model_folder: Path, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [CLI, "serve", "--model", str(model_folder), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health/ready", process)
        described = httpx.get(f"http://127.0.0.1:{port}/v1/model").json()
        assert described["name"] == model_folder.name
        assert described["version"] == "local"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
