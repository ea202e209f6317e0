"""Alembic environment of the prediction log: runs in the connection (and transaction, and lock)
``Database.migrate`` passes, else connects to the ``sqlalchemy.url`` option."""

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from sentimentops.prediction_log.database import VERSION_TABLE
from sentimentops.prediction_log.schema import metadata


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


if (given := context.config.attributes.get("connection")) is not None:
    run_on(given)
else:
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        run_on(connection)
    engine.dispose()
