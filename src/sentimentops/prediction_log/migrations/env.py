"""Alembic environment of the prediction log, run by ``PredictionLogStore.migrate``.

``migrate`` passes its open connection in ``config.attributes["connection"]``, so the upgrade runs
in its transaction (on PostgreSQL, under its advisory lock). Without one, as when the ``alembic``
command is pointed at this folder, a connection is made from the ``sqlalchemy.url`` option.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from sentimentops.prediction_log.store import VERSION_TABLE, metadata


def run_on(connection: Connection) -> None:
    """Apply the pending revisions through ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most of a table: later revisions copy it instead ("batch" mode).
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def emit_sql(url: str) -> None:
    """Write the SQL of the pending revisions instead of running it (``alembic ... --sql``)."""
    context.configure(
        url=url,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Set sqlalchemy.url, or migrate with PredictionLogStore.migrate().")
    if context.is_offline_mode():
        emit_sql(url)
        return
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as own_connection:
            run_on(own_connection)
    finally:
        engine.dispose()


main()
