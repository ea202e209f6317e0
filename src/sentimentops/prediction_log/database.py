"""The prediction log's database: URL, engine tuning (SQLite, PostgreSQL), migrations, and any
failure meaning "cannot be used right now" raised as :class:`PredictionLogUnavailableError`."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import URL, Connection, Engine

from sentimentops.errors import ConfigError, PredictionLogUnavailableError

__all__ = ["MIGRATIONS_DIRECTORY", "VERSION_TABLE", "Database"]

MIGRATIONS_DIRECTORY: Final = Path(__file__).resolve().parent / "migrations"
# Not Alembic's default name: in team mode MLflow's migrations own ``alembic_version``.
VERSION_TABLE: Final = "prediction_log_alembic_version"
MIGRATION_LOCK_KEY: Final = 0x534F504C  # "SOPL": any constant every migrating process shares
SQLITE_BUSY_TIMEOUT_MS: Final = 5_000
# A silent peer is found dead in about 30 s, not the kernel's 15 minutes to 2 hours
# (docs/decisions.md, "Prediction log").
POSTGRES_CONNECT_ARGS: Final = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
POSTGRES_STATEMENT_TIMEOUT_MS: Final = 30_000
# A record the database refuses (a constraint, a value, a trigger's error): the writer retries
# record by record and drops only that one. Any other failure is an outage, spooled: a lost
# connection, a missing table, a damaged SQLite file ("file is not a database").
_REFUSALS: Final = (exc.IntegrityError, exc.DataError, exc.InternalError, exc.NotSupportedError)

log = logging.getLogger(__name__)


class Database:
    """One SQLite or PostgreSQL database, migrated by Alembic, thread-safe; after a failed
    :meth:`migrate`, the next :meth:`transaction` migrates first (an API started in an outage)."""

    def __init__(self, url: str) -> None:
        """The engine for ``url``, not connected yet; ConfigError unless SQLite or PostgreSQL."""
        self.url = _checked_url(url)
        self.engine = _create_engine(self.url)
        self._migration_owed = False
        sqlite = self.url.get_backend_name() == "sqlite"
        self._file = Path(str(self.url.database)) if sqlite else None
        self._file_identity: tuple[int, int] | None = None  # of the SQLite file last migrated
        self._file_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> None:
        """Bring the schema to the latest revision; concurrent callers on PostgreSQL take turns
        (an advisory lock). Raises PredictionLogUnavailableError when it cannot."""
        from alembic import command  # here: a tenth of a second of serve's start otherwise
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
        try:
            with self._outages_raised("migrating"), self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                    connection.execute(lock, {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except Exception:
            # Owed only on failure: a write racing a start-up migration must not start another.
            self._migration_owed = True
            raise
        self._migration_owed = False
        self._file_identity = _identity(self._file)

    @contextmanager
    def transaction(self, action: str) -> Iterator[Connection]:
        """A connection in a transaction committed at the block's end; PredictionLogUnavailableError
        (naming ``action``) when the database cannot be used now, other errors as raised."""
        if self._migration_owed:
            self.migrate()
        with self._outages_raised(action):
            self._recreate_if_replaced()
            with self.engine.begin() as connection:
                yield connection

    def dispose(self) -> None:
        """Close the pooled connections; the database reconnects if used again."""
        self.engine.dispose()

    def _recreate_if_replaced(self) -> None:
        """Migrate again when the SQLite file was removed or replaced while in use: pooled
        connections would write on into the removed file, lost with it."""
        file, known = self._file, self._file_identity
        if file is None or known is None or _identity(file) == known:
            return
        with self._file_lock:
            if _identity(file) == self._file_identity:
                return  # another thread got here first
            log.warning(
                "%s was removed or replaced while in use: writing to the file now at that path "
                "(migrated again); what was written before stays with the old file",
                file,
            )
            self.engine.dispose()
            file.parent.mkdir(parents=True, exist_ok=True)
            self.migrate()

    @contextmanager
    def _outages_raised(self, action: str) -> Iterator[None]:
        try:
            yield
        except (exc.DBAPIError, exc.TimeoutError, OSError) as error:
            # OSError: the SQLite file's folder cannot be made again (replaced by a file).
            if isinstance(error, _REFUSALS) and not error.connection_invalidated:
                raise  # one record refused: the writer retries record by record
            reason = " ".join(str(getattr(error, "orig", None) or error).split())
            raise PredictionLogUnavailableError(
                f"The prediction log database {self.url.render_as_string(hide_password=True)} "
                f"failed while {action} ({reason}). Check that it is running, reachable and "
                "migrated (open_store migrates), or point prediction_log.url "
                "(SENTIMENTOPS_PREDICTION_LOG__URL) at one that is."
            ) from error


def _checked_url(url: str) -> URL:
    problem = (
        "prediction_log.url (SENTIMENTOPS_PREDICTION_LOG__URL) must be sqlite:///path/to/file.db "
        "or postgresql+psycopg2://user@host:5432/database"
    )
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError:
        raise ConfigError(f"{problem}; the value given is not a URL.") from None  # no password
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{problem}; got the {backend!r} dialect.")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        # One in-memory database per connection: the writer thread would not see it.
        raise ConfigError(f"{problem}; in-memory SQLite cannot be shared between threads.")
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which the project does not ship.
    plain = parsed.drivername == "postgresql"
    return parsed.set(drivername="postgresql+psycopg2") if plain else parsed


def _identity(file: Path | None) -> tuple[int, int] | None:
    """Device and inode of ``file``, None when it is missing (or not a file database)."""
    try:
        status = file.stat() if file is not None else None
    except FileNotFoundError:
        return None
    return None if status is None else (status.st_dev, status.st_ino)


def _create_engine(url: URL) -> Engine:
    """An engine whose pool tests connections before use, so it recovers after an outage."""
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, connect_args=_postgres_connect_args(url))
    folder = Path(str(url.database)).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"prediction_log.url (SENTIMENTOPS_PREDICTION_LOG__URL) names a file in {folder}, "
            f"which cannot be made ({error.strerror or error}). Point it at a folder you can write."
        ) from None
    engine = sa.create_engine(url, pool_pre_ping=True)

    @sa.event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets monitoring read while the API writes; the busy timeout makes a writer wait
        # for another's lock instead of failing with "database is locked".
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    return engine


def _postgres_connect_args(url: URL) -> dict[str, Any]:
    """:data:`POSTGRES_CONNECT_ARGS` unless the URL's query sets them, and a statement timeout
    unless the URL's ``options`` or PGOPTIONS set one."""
    args: dict[str, Any] = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k not in url.query}
    # Passed as a connect argument, options replaces the URL's and PGOPTIONS: it carries theirs.
    given = url.query.get("options", os.environ.get("PGOPTIONS", ""))
    options = " ".join(given) if isinstance(given, tuple) else given
    if "statement_timeout" not in options:
        timeout = f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}"
        args["options"] = f"{options} {timeout}".strip()
    return args
