"""The prediction log store against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError, ConfigError, PredictionLogUnavailableError
from sentimentops.monitoring import run_store
from sentimentops.prediction_log import (
    WINDOW_COLUMNS,
    PredictionLogStore,
    PredictionRecord,
    open_store,
)
from sentimentops.prediction_log.database import MIGRATIONS_DIRECTORY, VERSION_TABLE
from sentimentops.prediction_log.schema import metadata
from tests.prediction_log.concurrency import errors_of_concurrent_calls
from tests.prediction_log.sample_records import START, sample_record, sample_records
from tests.servers import free_port


def test_migrate_twice_leaves_one_revision_and_the_rows(sqlite_store: PredictionLogStore) -> None:
    sqlite_store.write_predictions(sample_records(3))

    sqlite_store.migrate()

    with sqlite_store.engine.connect() as connection:
        versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    head = ScriptDirectory(str(MIGRATIONS_DIRECTORY)).get_current_head()
    assert versions == [(head,)]
    assert sqlite_store.count_predictions() == 3


def test_migrations_build_exactly_the_declared_schema(store: PredictionLogStore) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        differences = compare_metadata(context, [metadata, run_store.metadata])  # type: ignore[arg-type]
        indexes = {
            (index["name"], tuple(index["column_names"]), bool(index["unique"]))
            for table in ("predictions", "feedback")
            for index in sa.inspect(connection).get_indexes(table)
        }

    assert differences == []
    assert indexes == {
        ("ix_predictions_timestamp", ("timestamp",), False),
        ("uq_predictions_request_id_role", ("request_id", "role"), True),
        ("ix_feedback_request_id", ("request_id",), False),
    }


def test_writing_records_again_adds_no_row(store: PredictionLogStore) -> None:
    """A replay after a commit whose answer was lost writes the batch again: it lands once."""
    first = store.write_predictions(sample_records(3))
    again = store.write_predictions(sample_records(5))  # 0-2 again, then 3 and 4

    assert (first, again) == (3, 2)
    assert store.read_window()["request_id"].tolist() == [f"request-{i}" for i in range(5)]


def test_one_request_id_may_be_logged_once_per_role(store: PredictionLogStore) -> None:
    champion = sample_record(0)
    shadow = dataclasses.replace(champion, role="shadow", model_version="4")

    inserted = store.write_predictions([champion, shadow, champion])

    assert inserted == 2
    assert sorted(store.read_window()["role"]) == ["champion", "shadow"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0003_keeps_one_row_per_request_id_and_every_distinct_prediction(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A database from before 0003 may repeat a request id: the old writer retried a commit
    that had gone through (the same row twice), or a client reused an X-Request-ID (two
    predictions). The first kind is removed, the second kept under a suffixed id."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = PredictionLogStore(url)
    try:
        _migrate(store, "0002")
        retried, reused = sample_record(0), sample_record(1)
        other_text = sample_record(2, text="Another review entirely.")
        reusing = vars(other_text) | {"request_id": "request-1"}
        rows = [vars(retried), vars(retried), vars(reused), reusing]
        with store.engine.begin() as connection:
            columns = [name for name in rows[0] if name != "role"]
            insert = sa.text(
                f"INSERT INTO predictions ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + name for name in columns)})"
            )
            connection.execute(insert, rows)

        store.migrate()
        window = store.read_window()
    finally:
        store.dispose()

    assert window["request_id"].tolist() == ["request-0", "request-1", "request-1#4"]
    assert window["role"].unique().tolist() == ["champion"]


def _migrate(store: PredictionLogStore, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_records_round_trip_with_utc_timestamps(store: PredictionLogStore) -> None:
    paris = timezone(timedelta(hours=2))
    records = [
        sample_record(0, timestamp=datetime(2026, 3, 1, 14, 0, tzinfo=paris)),
        sample_record(1, timestamp=datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
    ]

    store.write_predictions(records)
    window = store.read_window()

    assert list(window.columns) == list(WINDOW_COLUMNS)
    assert str(window["timestamp"].dtype) == "datetime64[ns, UTC]"
    # 14:00 in Paris is 12:00 UTC, so record 0 comes first.
    assert window["timestamp"].tolist() == [
        pd.Timestamp("2026-03-01 12:00", tz="UTC"),
        pd.Timestamp("2026-03-01 12:30", tz="UTC"),
    ]
    for record, row in zip(records, window.to_dict("records"), strict=True):
        assert row["timestamp"].to_pydatetime() == record.timestamp
        fields = {name: row[name] for name in WINDOW_COLUMNS if name != "feedback_label"}
        assert PredictionRecord(**fields) == record


def test_window_includes_since_and_excludes_until(store: PredictionLogStore) -> None:
    # Written out of order: the window comes back sorted by timestamp.
    store.write_predictions([sample_record(index) for index in (4, 0, 3, 1, 2)])

    window = store.read_window(START + timedelta(seconds=1), START + timedelta(seconds=3))

    assert window["request_id"].tolist() == ["request-1", "request-2"]
    assert store.read_window(since=START + timedelta(seconds=3))["request_id"].tolist() == [
        "request-3",
        "request-4",
    ]
    assert len(store.read_window(until=START)) == 0


def test_empty_window_has_the_columns_and_types(store: PredictionLogStore) -> None:
    window = store.read_window(since=START)

    assert window.empty
    assert list(window.columns) == list(WINDOW_COLUMNS)
    assert str(window["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert window["score"].dtype == "float64"


def test_window_joins_the_latest_feedback_label(store: PredictionLogStore) -> None:
    store.write_predictions(sample_records(3))
    # Received later but written first: the time it was received decides, not the write order.
    store.write_feedback("request-0", "positive", received_at=START + timedelta(hours=2))
    store.write_feedback("request-0", "negative", received_at=START + timedelta(hours=1))
    store.write_feedback("request-1", "positive")

    labels = store.read_window().set_index("request_id")["feedback_label"]

    assert labels["request-0"] == "positive"
    assert labels["request-1"] == "positive"
    assert pd.isna(labels["request-2"])


def test_has_prediction_finds_a_logged_request_id_and_nothing_else(
    store: PredictionLogStore,
) -> None:
    store.write_predictions(sample_records(2))

    assert store.has_prediction("request-1")
    assert not store.has_prediction("request-2")
    assert not store.has_prediction("request-")  # an exact match, not a prefix


def test_feedback_before_its_prediction_is_joined_once_it_is_logged(
    store: PredictionLogStore,
) -> None:
    store.write_feedback("request-0", "negative")
    store.write_predictions(sample_records(1))

    assert store.read_window()["feedback_label"].tolist() == ["negative"]


def test_labelled_texts_are_the_logged_texts_with_feedback(store: PredictionLogStore) -> None:
    store.write_predictions(
        [
            sample_record(0, text="Loved it."),
            sample_record(1, text="Hated it."),
            sample_record(2, text="No label yet."),
            sample_record(3, text="Only hashed.", store_text=False),
        ]
    )
    store.write_feedback("request-0", "positive")
    store.write_feedback("request-1", "negative")
    store.write_feedback("request-3", "positive")

    rows = store.labelled_texts().sort_values("review").reset_index(drop=True)

    assert rows.to_dict("records") == [
        {"review": "Hated it.", "sentiment": "negative"},
        {"review": "Loved it.", "sentiment": "positive"},
    ]


def test_feedback_label_must_be_a_sentiment(sqlite_store: PredictionLogStore) -> None:
    with pytest.raises(BadInputError, match="'neutral'"):
        sqlite_store.write_feedback("request-0", "neutral")  # type: ignore[arg-type]


def test_without_text_storage_only_length_and_hash_are_kept(store: PredictionLogStore) -> None:
    text = "Un film magnifique, vraiment émouvant."
    store.write_predictions([sample_record(0, text=text, store_text=False)])

    row = store.read_window().iloc[0]

    assert row["text"] is None
    assert row["text_length"] == len(text)
    assert row["text_sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_naive_timestamps_are_refused(sqlite_store: PredictionLogStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sample_record(0, timestamp=datetime(2026, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="since"):
        sqlite_store.read_window(since=datetime(2026, 3, 1, 12, 0))


def test_sqlite_file_uses_wal_and_waits_for_locks(
    sqlite_store: PredictionLogStore, sqlite_path: Path
) -> None:
    with sqlite_store.engine.connect() as connection:
        busy_timeout = connection.execute(sa.text("PRAGMA busy_timeout")).scalar_one()
    # The journal mode is a property of the file: another connection sees it too.
    with sqlite3.connect(sqlite_path) as other:
        journal_mode = other.execute("PRAGMA journal_mode").fetchone()[0]
    other.close()

    assert sqlite_path.is_file()  # its folder did not exist: the store created it
    assert journal_mode == "wal"
    assert busy_timeout == 5000


def test_open_store_defaults_to_sqlite_under_the_home(isolated_settings: Path) -> None:
    store = open_store()
    try:
        store.write_predictions(sample_records(2))
        assert store.count_predictions() == 2
    finally:
        store.dispose()

    assert (isolated_settings / "prediction_log.db").is_file()


def test_open_store_gives_plain_postgresql_urls_the_psycopg2_driver(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = postgres_url.replace("postgresql+psycopg2://", "postgresql://")
    monkeypatch.setenv("SENTIMENTOPS_PREDICTION_LOG__URL", plain)
    get_settings.cache_clear()

    store = open_store()
    try:
        assert store.url.drivername == "postgresql+psycopg2"
        assert store.count_predictions() == 0
    finally:
        store.dispose()


@pytest.mark.parametrize(
    "url", ["not a url", "mysql+pymysql://user@localhost/db", "sqlite://", "sqlite:///:memory:"]
)
def test_unusable_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="SENTIMENTOPS_PREDICTION_LOG__URL"):
        PredictionLogStore(url)


def test_a_sqlite_file_under_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    """It was a FileExistsError traceback, exit 1, from serve and every log command."""
    (tmp_path / "notes").write_text("a file, not a folder\n")

    with pytest.raises(ConfigError, match="SENTIMENTOPS_PREDICTION_LOG__URL") as raised:
        PredictionLogStore(f"sqlite:///{tmp_path}/notes/prediction_log.db")

    assert f"{tmp_path}/notes, which cannot be made" in str(raised.value)


def test_a_sqlite_file_removed_in_use_is_recreated_and_written_to(
    sqlite_store: PredictionLogStore, sqlite_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Pooled connections would write on into the removed file (and its rows be lost with it):
    the next write goes to a new, migrated file at the same path, and says so."""
    sqlite_store.write_predictions(sample_records(2))
    for file in sqlite_path.parent.glob(f"{sqlite_path.name}*"):  # the database, -wal, -shm
        file.unlink()

    inserted = sqlite_store.write_predictions([sample_record(5), sample_record(6)])
    sqlite_store.write_feedback("request-5", "positive")

    assert inserted == 2
    with sqlite3.connect(sqlite_path) as connection:  # the file at the path, not the pool
        logged = connection.execute("SELECT request_id FROM predictions ORDER BY id").fetchall()
        labels = connection.execute("SELECT request_id, label FROM feedback").fetchall()
    assert logged == [("request-5",), ("request-6",)]
    assert labels == [("request-5", "positive")]
    assert "removed or replaced while in use" in caplog.text


def test_a_sqlite_file_replaced_in_use_is_written_to_not_the_old_one(
    sqlite_store: PredictionLogStore, sqlite_path: Path
) -> None:
    sqlite_store.write_predictions(sample_records(1))
    moved = sqlite_path.with_name("moved-away.db")
    for suffix in ("", "-wal", "-shm"):  # its connections still reach it under the new name
        sqlite_path.with_name(sqlite_path.name + suffix).rename(
            moved.with_name(moved.name + suffix)
        )
    replacement = PredictionLogStore(f"sqlite:///{sqlite_path}")
    replacement.migrate()
    replacement.dispose()

    sqlite_store.write_predictions([sample_record(3)])

    assert sqlite_store.read_window()["request_id"].tolist() == ["request-3"]
    with sqlite3.connect(moved) as connection:
        assert connection.execute("SELECT count(*) FROM predictions").fetchone() == (1,)


def test_unreachable_database_is_unavailable_not_a_crash() -> None:
    store = PredictionLogStore(f"postgresql://postgres:secret@127.0.0.1:{free_port()}/nowhere")

    with pytest.raises(PredictionLogUnavailableError, match=r"127\.0\.0\.1") as raised:
        store.migrate()
    with pytest.raises(PredictionLogUnavailableError):
        store.write_predictions(sample_records(1))

    assert "secret" not in str(raised.value)
    assert "SENTIMENTOPS_PREDICTION_LOG__URL" in str(raised.value)


def _socket_options(connection: sa.Connection) -> dict[str, int]:
    """What the kernel holds for the connection's TCP socket, not what was asked for."""
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    with socket.fromfd(dbapi.fileno(), socket.AF_INET, socket.SOCK_STREAM) as duplicate:
        tcp = {
            "keepalives_idle": socket.TCP_KEEPIDLE,
            "keepalives_interval": socket.TCP_KEEPINTVL,
            "keepalives_count": socket.TCP_KEEPCNT,
            "tcp_user_timeout": socket.TCP_USER_TIMEOUT,
        }
        options = {
            name: duplicate.getsockopt(socket.IPPROTO_TCP, flag) for name, flag in tcp.items()
        }
        options["keepalives"] = duplicate.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    return options


def test_postgres_connections_give_up_on_a_silent_peer_in_seconds(postgres_url: str) -> None:
    """A half-open connection (a network partition) fails in about half a minute instead of
    holding the writer for the kernel's 15 minutes; checked on a real connection's socket."""
    store = PredictionLogStore(postgres_url)
    try:
        with store.engine.connect() as connection:
            statement_timeout = connection.execute(sa.text("SHOW statement_timeout")).scalar()
            dsn = connection.connection.dbapi_connection.get_dsn_parameters()  # type: ignore[union-attr]
            kernel = _socket_options(connection)
    finally:
        store.dispose()

    assert statement_timeout == "30s"
    assert kernel == {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }
    assert dsn["connect_timeout"] == "5"
    assert dsn["options"] == "-c statement_timeout=30000"


def test_postgres_timeouts_given_in_the_url_or_pgoptions_are_kept(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=2s")
    url = sa.make_url(postgres_url).update_query_dict({"keepalives_idle": "60"})
    store = PredictionLogStore(url.render_as_string(hide_password=False))
    try:
        with store.engine.connect() as connection:
            shown = {
                name: connection.execute(sa.text(f"SHOW {name}")).scalar()
                for name in ("statement_timeout", "lock_timeout")
            }
            kernel = _socket_options(connection)
    finally:
        store.dispose()
    assert shown == {"statement_timeout": "30s", "lock_timeout": "2s"}  # PGOPTIONS carried
    assert kernel["keepalives_idle"] == 60
    assert kernel["keepalives_interval"] == 5

    url = url.update_query_dict({"options": "-c statement_timeout=5s"})
    store = PredictionLogStore(url.render_as_string(hide_password=False))
    try:
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "5s"
    finally:
        store.dispose()


def test_concurrent_writers_lose_nothing_on_postgres(postgres_store: PredictionLogStore) -> None:
    threads, batches, batch_size = 8, 10, 25

    def write_batches(thread: int) -> None:
        for batch in range(batches):
            first = (thread * batches + batch) * batch_size
            postgres_store.write_predictions(sample_records(batch_size, first=first))

    errors = errors_of_concurrent_calls(write_batches, range(threads))

    assert errors == []
    window = postgres_store.read_window()
    assert len(window) == threads * batches * batch_size
    assert window["request_id"].is_unique


def test_concurrent_migrations_on_postgres_all_succeed(postgres_url: str) -> None:
    stores = [PredictionLogStore(postgres_url) for _ in range(4)]

    errors = errors_of_concurrent_calls(lambda n: stores[n].migrate(), range(len(stores)))
    counts = [store.count_predictions() for store in stores]
    for store in stores:
        store.dispose()

    assert errors == []
    assert counts == [0, 0, 0, 0]
