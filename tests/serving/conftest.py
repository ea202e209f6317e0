"""An API on the small real model, run in-process with its lifespan (model load, log writer)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentimentops.config import Settings, get_settings
from sentimentops.serving.app import create_app

ClientFactory = Callable[..., AbstractContextManager[TestClient]]


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/health/ready").status_code == 200:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the API was not ready within {timeout} s")


def settings_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    """Settings from SENTIMENTOPS_* variables: ``serving__max_batch_size="2"``."""
    for name, value in values.items():
        monkeypatch.setenv(f"SENTIMENTOPS_{name.upper()}", value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def make_client(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> ClientFactory:
    """``with make_client(serving__max_batch_size="2") as client:`` an API, ready to answer."""

    @contextmanager
    def make(*, ready: bool = True, **values: str) -> Iterator[TestClient]:
        values = {
            "serving__model_uri": str(model_folder),
            "serving__reload_interval_seconds": "0",
            "prediction_log__flush_seconds": "0.05",
        } | values
        app = create_app(settings_with(monkeypatch, **values))
        with TestClient(app, raise_server_exceptions=False) as client:
            if ready:
                wait_ready(client)
            yield client

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[TestClient]:
    with make_client() as ready_client:
        yield ready_client


def logged_request_ids(client: TestClient, timeout: float = 10.0) -> list[str]:
    """The request ids in the prediction log once the writer has written something (records
    are written in the order submitted), waiting up to ``timeout`` seconds."""
    writer = client.app.state.api.writer  # type: ignore[attr-defined]
    store = client.app.state.api.store  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while writer.written < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(store.read_window()["request_id"])
