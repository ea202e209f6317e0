"""Real stores for the prediction log tests: SQLite under tmp_path, PostgreSQL of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sentimentops.prediction_log import PredictionLogStore

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh database on the local PostgreSQL, dropped afterwards."""
    name = f"sentimentops_prediction_log_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as connection:
            # A connection left open by a failed test would make DROP DATABASE fail.
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


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
