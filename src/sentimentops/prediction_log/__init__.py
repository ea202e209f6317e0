"""The prediction log: every served prediction and feedback label, in SQLite or PostgreSQL.

The API submits a :class:`PredictionRecord` per prediction to a :class:`PredictionLogWriter`,
which writes them in batches off the request path; the monitoring job reads windows of them,
joined with their feedback, through :meth:`PredictionLogStore.read_window`, and records each of
its runs as a :class:`MonitoringRunRecord` (:meth:`PredictionLogStore.write_monitoring_run`,
read back for trends by :meth:`PredictionLogStore.read_monitoring_runs`).
"""

from sentimentops.prediction_log.store import (
    LABELS,
    METRIC_COLUMN_PREFIX,
    MONITORING_RUN_COLUMNS,
    VERDICTS,
    WINDOW_COLUMNS,
    Label,
    MonitoringRunRecord,
    PredictionLogStore,
    PredictionRecord,
    Verdict,
    open_store,
    text_sha256,
)
from sentimentops.prediction_log.writer import PredictionLogWriter

__all__ = [
    "LABELS",
    "METRIC_COLUMN_PREFIX",
    "MONITORING_RUN_COLUMNS",
    "VERDICTS",
    "WINDOW_COLUMNS",
    "Label",
    "MonitoringRunRecord",
    "PredictionLogStore",
    "PredictionLogWriter",
    "PredictionRecord",
    "Verdict",
    "open_store",
    "text_sha256",
]
