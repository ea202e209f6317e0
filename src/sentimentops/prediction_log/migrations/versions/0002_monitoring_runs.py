"""0002 (2026-11-28): monitoring runs, one row per ``sentimentops monitor`` run; the table is
monitoring/run_store.py's, in the prediction log's database. Types are spelled out, as in 0001."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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
