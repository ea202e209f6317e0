"""The SQL store of served predictions, feedback labels and monitoring runs: schema, writes, reads.

One row per served prediction, one per feedback label. Feedback has no foreign key to predictions:
a label can arrive before the asynchronous writer has flushed its prediction, so
:meth:`PredictionLogStore.read_window` joins the latest label per ``request_id`` when it reads.
SQLite (the default: one file under ``SENTIMENTOPS_HOME``) and PostgreSQL (team mode) behave the
same; timestamps go in and come out UTC-aware on both.

Monitoring runs are kept here too, one row each, so the history of a deployment's drift and
accuracy lives beside the predictions it was measured on (:meth:`PredictionLogStore.
read_monitoring_runs`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

from sentimentops.config import Settings, get_settings
from sentimentops.errors import BadInputError, ConfigError, PredictionLogUnavailableError

__all__ = [
    "LABELS",
    "METRIC_COLUMN_PREFIX",
    "MONITORING_RUN_COLUMNS",
    "VERDICTS",
    "VERSION_TABLE",
    "WINDOW_COLUMNS",
    "Label",
    "MonitoringRunRecord",
    "PredictionLogStore",
    "PredictionRecord",
    "Verdict",
    "feedback",
    "metadata",
    "monitoring_runs",
    "open_store",
    "predictions",
    "text_sha256",
]

Label = Literal["positive", "negative"]
LABELS: Final = ("positive", "negative")
Verdict = Literal["ok", "alert"]
VERDICTS: Final = ("ok", "alert")

MIGRATIONS_DIRECTORY: Final = Path(__file__).resolve().parent / "migrations"
# In team mode the prediction log may share a PostgreSQL database with MLflow, whose migrations
# already own Alembic's default ``alembic_version`` table.
VERSION_TABLE: Final = "prediction_log_alembic_version"
# Any constant shared by every process that migrates this schema; "SOPL" in ASCII.
MIGRATION_LOCK_KEY: Final = 0x534F504C
SQLITE_BUSY_TIMEOUT_MS: Final = 5_000
POSTGRES_CONNECT_TIMEOUT_SECONDS: Final = 5
# A connection that dies silently (a network partition, a NAT or firewall forgetting it) would
# otherwise hold the writer for the kernel's TCP timeouts: some 15 minutes of retransmissions
# for a query sent and never acknowledged, over two hours (the system's keepalive defaults,
# which libpq uses unless told otherwise) for an answer awaited on a silent socket.
# Keepalive probes after 10 s of silence, then every 5 s (3 unanswered: dead), and 30 s without
# an acknowledgement (tcp_user_timeout, which on Linux also ends the probing) find a dead peer
# in about half a minute. The server cancels a statement still running after 30 s.
POSTGRES_KEEPALIVES: Final = {
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
POSTGRES_TCP_USER_TIMEOUT_MS: Final = 30_000
POSTGRES_STATEMENT_TIMEOUT_MS: Final = 30_000


def _as_utc(moment: datetime, name: str) -> datetime:
    """``moment`` converted to UTC; a naive datetime is refused, its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {moment}")
    return moment.astimezone(UTC)


def text_sha256(text: str) -> str:
    """Hex SHA-256 of ``text`` in UTF-8; lone surrogates (valid in JSON) are hashed, not refused."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def storable_text(text: str) -> str:
    """``text`` as every supported database stores it: a NUL (refused by PostgreSQL) becomes
    U+FFFD and a lone surrogate (valid in JSON, refused as UTF-8) becomes "?". The hash and
    length keep describing the text as received."""
    text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text


@dataclass(frozen=True)
class PredictionRecord:
    """One served prediction as logged; ``text`` is None when text storage is off.

    ``timestamp`` must be timezone-aware and is kept in UTC, the zone windows are compared in.
    ``score`` is the probability of "positive"; ``text_length`` counts characters.
    """

    timestamp: datetime
    request_id: str
    endpoint: str
    model_name: str
    model_version: str
    label: Label
    score: float
    latency_ms: float
    text_length: int
    text_sha256: str
    text: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", _as_utc(self.timestamp, "timestamp"))

    @classmethod
    def of(
        cls,
        text: str,
        *,
        store_text: bool,
        request_id: str,
        endpoint: str,
        model_name: str,
        model_version: str,
        label: Label,
        score: float,
        latency_ms: float,
        timestamp: datetime | None = None,
    ) -> PredictionRecord:
        """The record of scoring ``text``: its length and hash always, the text if ``store_text``.

        ``timestamp`` defaults to now.
        """
        return cls(
            timestamp=timestamp or datetime.now(UTC),
            request_id=request_id,
            endpoint=endpoint,
            model_name=model_name,
            model_version=model_version,
            label=label,
            score=score,
            latency_ms=latency_ms,
            text_length=len(text),
            text_sha256=text_sha256(text),
            text=text if store_text else None,  # made storable by the writer, off the loop
        )


@dataclass(frozen=True)
class MonitoringRunRecord:
    """One monitoring run as recorded: what was monitored, against which model, what was found.

    ``started_at`` must be timezone-aware and is kept in UTC. ``source`` is the input's path or
    URI, or ``log:<since>..<until>`` for a window of this log. ``alerts`` are JSON-compatible
    mappings (the fields of each alert); ``metrics`` maps a metric's name to its value.
    """

    started_at: datetime
    source: str
    model_name: str
    model_version: str
    rows: int
    verdict: Verdict
    alerts: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, float]
    report_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", _as_utc(self.started_at, "started_at"))
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


RECORD_FIELDS: Final = tuple(field.name for field in fields(PredictionRecord))
WINDOW_COLUMNS: Final = (*RECORD_FIELDS, "feedback_label")
_WINDOW_DTYPES: Final = {"score": "float64", "latency_ms": "float64", "text_length": "int64"}
# A frame of monitoring runs has these columns, then one ``metric.<name>`` column per metric
# any of its runs recorded (float, NaN where a run did not), sorted by name.
MONITORING_RUN_COLUMNS: Final = (
    "id",
    *(field.name for field in fields(MonitoringRunRecord) if field.name != "metrics"),
)
METRIC_COLUMN_PREFIX: Final = "metric."


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp written in UTC and read back UTC-aware, on SQLite as on PostgreSQL.

    SQLite has no zone-aware type: SQLAlchemy stores the wall-clock digits and drops the offset,
    so values are converted to UTC before writing and marked UTC after reading. Being UTC strings
    of one format, they also compare and sort correctly in SQLite.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value, "a timestamp")

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only autoincrements an INTEGER primary key; elsewhere 64 bits outlast any traffic.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UTCDateTime(), nullable=False),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("endpoint", sa.String(255), nullable=False),
    sa.Column("model_name", sa.String(255), nullable=False),
    sa.Column("model_version", sa.String(255), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("text_length", sa.Integer(), nullable=False),
    sa.Column("text_sha256", sa.String(64), nullable=False),
    sa.Column("text", sa.Text(), nullable=True),
    sa.Index("ix_predictions_timestamp", "timestamp"),
    sa.Index("ix_predictions_request_id", "request_id"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Index("ix_feedback_request_id", "request_id"),
)

monitoring_runs = sa.Table(
    "monitoring_runs",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("model_name", sa.String(255), nullable=False),
    sa.Column("model_version", sa.String(255), nullable=False),
    sa.Column("rows", sa.Integer(), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    # JSON as text: the same on SQLite and PostgreSQL, and never queried inside.
    sa.Column("alerts", sa.Text(), nullable=False),
    sa.Column("metrics", sa.Text(), nullable=False),
    sa.Column("report_path", sa.Text(), nullable=True),
    sa.Index("ix_monitoring_runs_started_at", "started_at"),
)


class PredictionLogStore:
    """Predictions, feedback and monitoring runs in one SQLite or PostgreSQL database; safe to
    share by threads.

    Every database failure that means "the database cannot be used right now" (unreachable,
    locked, tables or privileges missing) is raised as :class:`PredictionLogUnavailableError`.
    When :meth:`migrate` failed, the next write migrates first: an API started while its
    database was down creates the schema once the database answers, before its first insert.
    """

    def __init__(self, url: str) -> None:
        """Create the engine for ``url``; nothing connects until the first call.

        A plain ``postgresql://`` URL is given the psycopg2 driver, the one the project ships.

        Raises:
            ConfigError: ``url`` is not a SQLite file or PostgreSQL URL.
        """
        self.url = _checked_url(url)
        self.engine = _create_engine(self.url)
        self._migration_owed = False  # migrate() failed: writes migrate first

    def __repr__(self) -> str:
        return f"PredictionLogStore({self.url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision; a no-op when it is already there.

        On PostgreSQL an advisory lock serialises concurrent callers (API workers starting
        together), so the second one finds the tables the first one created.

        Raises:
            PredictionLogUnavailableError: the database cannot be reached or changed.
        """
        config = _alembic_config(self.url)
        try:
            with self._unavailable_as_domain_error("migrating"), self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except Exception:
            # Owed only when it failed: a write racing a start-up migration that is still
            # running must not start a second one (SQLite has no lock to make that safe).
            self._migration_owed = True
            raise
        self._migration_owed = False

    def _migrate_if_owed(self) -> None:
        if self._migration_owed:
            self.migrate()

    def write_predictions(self, records: Sequence[PredictionRecord]) -> None:
        """Insert ``records`` in one transaction: all of them, or none when it raises.

        Raises:
            PredictionLogUnavailableError: the database cannot be used right now; other errors
                (a value the database refuses) propagate as the driver raised them.
        """
        if not records:
            return
        self._migrate_if_owed()
        # vars(), not dataclasses.asdict: the fields are flat, and asdict deep-copies each one
        # (a tenth of the writer thread's time, which it spends holding the GIL).
        rows = [
            {**vars(record), "text": None if record.text is None else storable_text(record.text)}
            for record in records
        ]
        with self._unavailable_as_domain_error("writing predictions"), self.engine.begin() as c:
            c.execute(predictions.insert(), rows)

    def write_feedback(
        self, request_id: str, label: Label, received_at: datetime | None = None
    ) -> None:
        """Record the true ``label`` of the prediction logged under ``request_id``.

        The prediction need not be logged yet. A later label for the same request supersedes
        earlier ones. ``received_at`` (timezone-aware) defaults to now.

        Raises:
            BadInputError: ``label`` is not "positive" or "negative".
            PredictionLogUnavailableError: the database cannot be used right now.
        """
        if label not in LABELS:
            raise BadInputError(f"Feedback label must be one of {LABELS}, got {label!r}.")
        row = {
            "request_id": request_id,
            "label": label,
            "received_at": _as_utc(received_at or datetime.now(UTC), "received_at"),
        }
        self._migrate_if_owed()
        with self._unavailable_as_domain_error("writing feedback"), self.engine.begin() as c:
            c.execute(feedback.insert(), row)

    def read_window(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """The predictions logged in ``[since, until)``, oldest first; None leaves that end open.

        Returns:
            One row per prediction, columns :data:`WINDOW_COLUMNS`: the record's fields
            (``timestamp`` as UTC ``datetime64``) and ``feedback_label``, the latest label
            received for that ``request_id`` or None.

        Raises:
            ValueError: ``since`` or ``until`` is naive.
            PredictionLogUnavailableError: the database cannot be used right now.
        """
        query = _window_query(since, until)
        with self._unavailable_as_domain_error("reading predictions"), self.engine.connect() as c:
            rows = c.execute(query).all()
        return _window_frame(rows)

    def labelled_texts(self) -> pd.DataFrame:
        """Every logged text that received a feedback label, as ``review`` and ``sentiment``
        (training rows). Texts stored only as a hash (``store_text: false``) cannot be used.

        Raises:
            PredictionLogUnavailableError: the database cannot be used right now.
        """
        window = self.read_window()
        labelled = window[window["feedback_label"].notna() & window["text"].notna()]
        return pd.DataFrame(
            {"review": labelled["text"], "sentiment": labelled["feedback_label"]}
        ).reset_index(drop=True)

    def has_prediction(self, request_id: str) -> bool:
        """Whether a prediction is logged under ``request_id`` (an indexed lookup).

        Raises:
            PredictionLogUnavailableError: the database cannot be used right now.
        """
        query = sa.select(predictions.c.id).where(predictions.c.request_id == request_id).limit(1)
        self._migrate_if_owed()
        with (
            self._unavailable_as_domain_error("looking up a prediction"),
            self.engine.connect() as c,
        ):
            return c.execute(query).first() is not None

    def count_predictions(self) -> int:
        """How many predictions are logged.

        Raises:
            PredictionLogUnavailableError: the database cannot be used right now.
        """
        query = sa.select(sa.func.count()).select_from(predictions)
        with self._unavailable_as_domain_error("counting predictions"), self.engine.connect() as c:
            return int(c.execute(query).scalar_one())

    def write_monitoring_run(self, record: MonitoringRunRecord) -> int:
        """Record one monitoring run; returns its id.

        Raises:
            PredictionLogUnavailableError: the database cannot be used right now (or is not
                migrated to a schema with monitoring runs).
        """
        row = {
            **asdict(record),
            "rows": int(record.rows),  # a NumPy integer would not bind on psycopg2
            "alerts": json.dumps([dict(alert) for alert in record.alerts]),
            "metrics": json.dumps({name: float(value) for name, value in record.metrics.items()}),
        }
        with (
            self._unavailable_as_domain_error("writing a monitoring run"),
            self.engine.begin() as c,
        ):
            inserted = c.execute(monitoring_runs.insert().returning(monitoring_runs.c.id), row)
            return int(inserted.scalar_one())

    def read_monitoring_runs(self, since: datetime | None = None) -> pd.DataFrame:
        """The monitoring runs started at or after ``since`` (all when None), oldest first.

        Returns:
            One row per run: :data:`MONITORING_RUN_COLUMNS` (``started_at`` as UTC
            ``datetime64``, ``alerts`` as lists of dicts), then the metrics expanded into one
            float column per name, ``metric.<name>``, NaN for runs without that metric.

        Raises:
            ValueError: ``since`` is naive.
            PredictionLogUnavailableError: the database cannot be used right now.
        """
        query = sa.select(*(monitoring_runs.c[name] for name in MONITORING_RUN_COLUMNS))
        query = query.add_columns(monitoring_runs.c.metrics)
        if since is not None:
            query = query.where(monitoring_runs.c.started_at >= _as_utc(since, "since"))
        query = query.order_by(monitoring_runs.c.started_at, monitoring_runs.c.id)
        with (
            self._unavailable_as_domain_error("reading monitoring runs"),
            self.engine.connect() as c,
        ):
            rows = c.execute(query).all()
        return _monitoring_runs_frame(rows)

    def dispose(self) -> None:
        """Close the pooled connections; the store reconnects if used again."""
        self.engine.dispose()

    @contextmanager
    def _unavailable_as_domain_error(self, action: str) -> Iterator[None]:
        """Raise outages as one domain error: callers retry those, and not a refused value."""
        try:
            yield
        except (OperationalError, InterfaceError, ProgrammingError, sa.exc.TimeoutError) as error:
            raise self._unavailable(action, error) from error
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            raise self._unavailable(action, error) from error

    def _unavailable(self, action: str, error: SQLAlchemyError) -> PredictionLogUnavailableError:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        shown = self.url.render_as_string(hide_password=True)
        return PredictionLogUnavailableError(
            f"The prediction log database {shown} failed while {action} ({reason}). Check that "
            "it is running, reachable and migrated (open_store migrates), or point "
            "prediction_log.url (SENTIMENTOPS_PREDICTION_LOG__URL) at one that is."
        )


def open_store(settings: Settings | None = None) -> PredictionLogStore:
    """The store ``settings.prediction_log`` names (default: SQLite under the home), migrated.

    Raises:
        ConfigError: ``prediction_log.url`` is not a SQLite file or PostgreSQL URL.
        PredictionLogUnavailableError: the database cannot be reached or migrated.
    """
    settings = settings or get_settings()
    store = PredictionLogStore(settings.prediction_log.resolved_url(settings.home))
    try:
        store.migrate()
    except BaseException:
        store.dispose()
        raise
    return store


def _checked_url(url: str) -> URL:
    problem = (
        "prediction_log.url (SENTIMENTOPS_PREDICTION_LOG__URL) must be sqlite:///path/to/file.db "
        "or postgresql+psycopg2://user@host:5432/database"
    )
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The URL may hold a password: it is not repeated in the message.
        raise ConfigError(f"{problem}; the value given is not a URL.") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{problem}; got the {backend!r} dialect.")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        # In-memory SQLite is one database per connection: the writer thread would not share it.
        raise ConfigError(f"{problem}; in-memory SQLite cannot be shared between threads.")
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which the project does not ship.
        return parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _create_engine(url: URL) -> Engine:
    """An engine whose pool tests connections before use, so it recovers after an outage."""
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, pool_pre_ping=True)
        sa.event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, connect_args=_postgres_connect_args(url))


def _postgres_connect_args(url: URL) -> dict[str, Any]:
    """libpq's timeouts (POSTGRES_* above), each unless the URL's query sets it; a
    ``statement_timeout`` already in the URL's ``options`` (or PGOPTIONS) is kept as it is."""
    defaults: dict[str, Any] = {
        # libpq waits for the operating system's TCP timeout (minutes) on an unreachable host.
        "connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS,
        "keepalives": 1,
        **POSTGRES_KEEPALIVES,
        "tcp_user_timeout": POSTGRES_TCP_USER_TIMEOUT_MS,
    }
    connect_args = {key: value for key, value in defaults.items() if key not in url.query}
    # Passed as a connect argument, options replaces the URL's and PGOPTIONS: it carries theirs.
    given = url.query.get("options", os.environ.get("PGOPTIONS", ""))
    options = " ".join(given) if isinstance(given, tuple) else given
    if "statement_timeout" not in options:
        timeout = f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}"
        connect_args["options"] = f"{options} {timeout}".strip()
    return connect_args


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    """WAL lets the monitoring job read while the API writes; the busy timeout makes a writer
    wait for another's lock instead of failing at once with "database is locked"."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _alembic_config(url: URL) -> Config:
    """Alembic's configuration built in code: no alembic.ini has to ship or be found."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    # ConfigParser reads % as interpolation: a percent-encoded password must be escaped.
    rendered = url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    return config


def _window_query(since: datetime | None, until: datetime | None) -> sa.Select[Any]:
    latest_feedback = (
        sa.select(feedback.c.label)
        .where(feedback.c.request_id == predictions.c.request_id)
        .order_by(feedback.c.received_at.desc(), feedback.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("feedback_label")
    )
    query = sa.select(*(predictions.c[name] for name in RECORD_FIELDS), latest_feedback)
    if since is not None:
        query = query.where(predictions.c.timestamp >= _as_utc(since, "since"))
    if until is not None:
        query = query.where(predictions.c.timestamp < _as_utc(until, "until"))
    return query.order_by(predictions.c.timestamp, predictions.c.id)


def _window_frame(rows: Sequence[sa.Row[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([tuple(row) for row in rows], columns=list(WINDOW_COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.astype(_WINDOW_DTYPES)


def _monitoring_runs_frame(rows: Sequence[sa.Row[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(
        [tuple(row)[:-1] for row in rows], columns=list(MONITORING_RUN_COLUMNS)
    )
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    # A Series of lists, not a list of lists, which pandas would read as a 2-D array.
    frame["alerts"] = pd.Series([json.loads(row.alerts) for row in rows], dtype=object)
    frame = frame.astype({"id": "int64", "rows": "int64"})
    metrics = pd.DataFrame([json.loads(row.metrics) for row in rows], index=frame.index)
    metrics = metrics.astype("float64")
    metrics = metrics[sorted(metrics.columns)].add_prefix(METRIC_COLUMN_PREFIX)
    return pd.concat([frame, metrics], axis=1)
