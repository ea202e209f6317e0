"""Real stores for the prediction log tests: SQLite under tmp_path, PostgreSQL of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentimentops.prediction_log import PredictionLogStore


def migrated_store(url: str) -> Iterator[PredictionLogStore]:
    store = PredictionLogStore(url)
    store.migrate()
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "not-yet-created" / "prediction_log.db"


@pytest.fixture
def sqlite_store(sqlite_path: Path) -> Iterator[PredictionLogStore]:
    yield from migrated_store(f"sqlite:///{sqlite_path}")


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[PredictionLogStore]:
    yield from migrated_store(postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> PredictionLogStore:
    """The same tests on both databases the prediction log supports."""
    fixture = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    store: PredictionLogStore = request.getfixturevalue(fixture)
    return store
