"""Shared fixtures: an isolated state folder per test and small, real datasets."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import get_settings

# Fixtures that run the CLI as a user does (a real process, no test-only variables).
from tests.user import user_champion_home, user_home  # noqa: F401

# Rich wraps tables to the terminal width; CliRunner has no terminal, so fix a wide one.
os.environ["COLUMNS"] = "200"

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DATA = REPO_ROOT / "data" / "imdb" / "imdb_reviews.parquet"
REFERENCE_CHECKSUM = REPO_ROOT / "data" / "imdb" / "imdb_reviews.parquet.sha256"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SENTIMENTOPS_HOME, no config file, and fresh settings."""
    home = tmp_path / "home"
    monkeypatch.setenv("SENTIMENTOPS_HOME", str(home))
    monkeypatch.delenv("SENTIMENTOPS_CONFIG", raising=False)
    monkeypatch.setenv("SENTIMENTOPS_DATA__REFERENCE_PATH", str(REFERENCE_DATA))
    monkeypatch.setenv("SENTIMENTOPS_DATA__REFERENCE_SHA256_PATH", str(REFERENCE_CHECKSUM))
    for name, value in {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    # The CLI's --config exports SENTIMENTOPS_CONFIG itself; monkeypatch does not undo a variable
    # that was absent when it was deleted, so it would leak into every later test.
    os.environ.pop("SENTIMENTOPS_CONFIG", None)
    # mlflow.set_tracking_uri() and set_registry_uri() (tracking.store.connect calls both) also
    # export MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI: forget them between tests, or a later
    # test's client would read another test's registry.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri("")
        sys.modules["mlflow"].set_registry_uri("")


@pytest.fixture(scope="session")
def reference_reviews() -> pd.DataFrame:
    """The vendored 50k IMDB reviews (read once per session; do not mutate)."""
    return pd.read_parquet(REFERENCE_DATA)


@pytest.fixture
def small_reviews() -> pd.DataFrame:
    """Twenty labelled reviews over five movies, with one duplicated text across movies."""
    rows = []
    for movie in range(5):
        for i in range(4):
            positive = (movie + i) % 2 == 0
            text = f"Movie {movie} review {i}: " + (
                "a wonderful, moving film." if positive else "a dull, tedious mess."
            )
            rows.append(
                {
                    "review": text,
                    "sentiment": "positive" if positive else "negative",
                    "movie_id": f"tt{movie:07d}",
                }
            )
    rows[7]["review"] = rows[12]["review"]  # same text in two movies: their groups must merge
    rows[7]["sentiment"] = rows[12]["sentiment"]
    return pd.DataFrame(rows)


FAST_TRAINING_CONFIG = Path(__file__).resolve().parent / "fast_training.yaml"


@pytest.fixture
def fast_config(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Small grids so a training run takes seconds; get_settings() picks it up."""
    monkeypatch.setenv("SENTIMENTOPS_CONFIG", str(FAST_TRAINING_CONFIG))
    get_settings.cache_clear()
    return FAST_TRAINING_CONFIG


@pytest.fixture(scope="session")
def model_folder(reference_reviews: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real model (TF-IDF + logistic regression on 3,000 reviews) saved as an MLflow
    model folder, for batch and serving tests."""
    train = reference_reviews.sample(3000, random_state=2)
    return save_small_model(train, tmp_path_factory.mktemp("model") / "imdb-logreg")


def save_small_model(train: pd.DataFrame, folder: Path) -> Path:
    """A logistic regression fitted on ``train`` (review, sentiment), saved as an MLflow model
    folder at ``folder``."""
    from sentimentops.config import load_settings
    from sentimentops.models.candidates import build_candidate
    from sentimentops.tracking.flavor import save_model

    pipeline = build_candidate("logreg", load_settings()).pipeline
    pipeline.fit(train["review"].tolist(), train["sentiment"].to_numpy())
    save_model(pipeline, str(folder))
    return folder


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the local PostgreSQL, as a SQLAlchemy URL; dropped afterwards."""
    from tests.servers import postgres_database

    with postgres_database() as url:
        yield url


@dataclass
class Webhook:
    """A real HTTP server on loopback that answers POSTs with scripted statuses (then 200)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append((dict(self.headers), body))
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    # Port 0: the kernel picks a free port, with no window for another process to take it.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
