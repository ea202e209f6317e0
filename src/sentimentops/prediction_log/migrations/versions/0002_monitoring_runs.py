"""Monitoring runs: one row per run of ``sentimentops monitor``, for trends and history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Types are spelled out here rather than imported from the store, as in 0001: a revision must go on
creating the schema it created, whatever the application's tables become.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only autoincrements an INTEGER primary key; elsewhere 64 bits outlast any traffic.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The store writes UTC and marks values read back as UTC (its UTCDateTime); the column itself
# is a zone-aware timestamp, as in 0001.
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitoring_runs",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("started_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("alerts", sa.Text(), nullable=False),  # JSON list of alerts
        sa.Column("metrics", sa.Text(), nullable=False),  # JSON object: name -> float
        sa.Column("report_path", sa.Text(), nullable=True),
    )
    op.create_index("ix_monitoring_runs_started_at", "monitoring_runs", ["started_at"])


def downgrade() -> None:
    op.drop_table("monitoring_runs")
