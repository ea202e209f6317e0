"""The prediction log's tables, declared once; the Alembic revisions in ``migrations/`` build them
(tests/prediction_log/test_store.py compares the two)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["ROW_ID", "UTCDateTime", "as_utc", "feedback", "metadata", "predictions"]


def as_utc(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC. Raises ValueError when it is naive: its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {moment}")
    return moment.astimezone(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp written in UTC and read back UTC-aware: SQLite drops the offset, so values
    are converted before writing (they then also sort as strings) and marked UTC after reading."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value, "a timestamp")

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only autoincrements an INTEGER primary key; elsewhere 64 bits outlast any traffic.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
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
    # Which model answered: the champion, or one compared with it on the same request.
    sa.Column("role", sa.String(32), nullable=False, server_default="champion"),
    sa.Index("ix_predictions_timestamp", "timestamp"),
    # A record written twice (a replay after a commit whose answer was lost) lands once.
    sa.Index("uq_predictions_request_id_role", "request_id", "role", unique=True),
)

# No foreign key: a label may arrive before the writer has flushed its prediction.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Index("ix_feedback_request_id", "request_id"),
)
