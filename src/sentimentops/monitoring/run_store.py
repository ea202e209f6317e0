"""The history of monitoring runs: one row per run in the prediction log's database (migration
0002 creates the table), read back for trends."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Final, Literal

import pandas as pd
import sqlalchemy as sa

from sentimentops.prediction_log.database import Database
from sentimentops.prediction_log.schema import ROW_ID, UTCDateTime, as_utc

__all__ = [
    "METRIC_COLUMN_PREFIX",
    "MONITORING_RUN_COLUMNS",
    "MonitoringRunRecord",
    "metadata",
    "read_monitoring_runs",
    "write_monitoring_run",
]

VERDICTS: Final = ("ok", "alert")


@dataclass(frozen=True)
class MonitoringRunRecord:
    """One monitoring run (``started_at`` timezone-aware, kept in UTC); ValueError when naive or
    with an unknown verdict."""

    started_at: datetime
    source: str
    model_name: str
    model_version: str
    rows: int
    verdict: Literal["ok", "alert"]
    alerts: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, float]
    report_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", as_utc(self.started_at, "started_at"))
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


# A frame of runs has these columns, then one float ``metric.<name>`` column per metric.
MONITORING_RUN_COLUMNS: Final = (
    "id",
    *(field.name for field in fields(MonitoringRunRecord) if field.name != "metrics"),
)
METRIC_COLUMN_PREFIX: Final = "metric."

metadata = sa.MetaData()

monitoring_runs = sa.Table(
    "monitoring_runs",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
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


def write_monitoring_run(database: Database, record: MonitoringRunRecord) -> int:
    """Record one run in ``database`` (the prediction log's); returns its id. Raises
    PredictionLogUnavailableError when the database cannot be used (or lacks the table)."""
    row = {
        **asdict(record),
        "rows": int(record.rows),  # a NumPy integer would not bind on psycopg2
        "alerts": json.dumps([dict(alert) for alert in record.alerts]),
        "metrics": json.dumps({name: float(value) for name, value in record.metrics.items()}),
    }
    with database.transaction("writing a monitoring run") as connection:
        inserted = connection.execute(monitoring_runs.insert().returning(monitoring_runs.c.id), row)
        return int(inserted.scalar_one())


def read_monitoring_runs(database: Database, since: datetime | None = None) -> pd.DataFrame:
    """The runs since ``since`` (all when None), oldest first: :data:`MONITORING_RUN_COLUMNS`,
    then a ``metric.<name>`` column per metric. ValueError when ``since`` is naive, and
    PredictionLogUnavailableError as :func:`write_monitoring_run`."""
    query = sa.select(*(monitoring_runs.c[name] for name in MONITORING_RUN_COLUMNS))
    query = query.add_columns(monitoring_runs.c.metrics)
    if since is not None:
        query = query.where(monitoring_runs.c.started_at >= as_utc(since, "since"))
    query = query.order_by(monitoring_runs.c.started_at, monitoring_runs.c.id)
    with database.transaction("reading monitoring runs") as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame.from_records(
        [tuple(row)[:-1] for row in rows], columns=list(MONITORING_RUN_COLUMNS)
    )
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    # A Series of lists, not a list of lists, which pandas would read as a 2-D array.
    frame["alerts"] = pd.Series([json.loads(row.alerts) for row in rows], dtype=object)
    frame = frame.astype({"id": "int64", "rows": "int64"})
    metrics = pd.DataFrame([json.loads(row.metrics) for row in rows], index=frame.index)
    metrics = metrics[sorted(metrics.columns)].astype("float64").add_prefix(METRIC_COLUMN_PREFIX)
    return pd.concat([frame, metrics], axis=1)
