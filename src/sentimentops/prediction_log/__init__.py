"""The prediction log: every served prediction and feedback label, in SQLite or PostgreSQL.

The API submits a :class:`PredictionRecord` per prediction to a :class:`PredictionLogWriter`,
which writes batches off the request path, through a local spool while the database is away;
monitoring reads windows of them, with their feedback, through
:meth:`PredictionLogStore.read_window`, and asks :func:`spooled_between` what is still spooled.
"""

from sentimentops.prediction_log.spool import SpoolStats, spooled_between
from sentimentops.prediction_log.store import (
    WINDOW_COLUMNS,
    Label,
    PredictionLogStore,
    PredictionRecord,
    open_store,
)
from sentimentops.prediction_log.writer import LogStatus, PredictionLogWriter

__all__ = [
    "WINDOW_COLUMNS",
    "Label",
    "LogStatus",
    "PredictionLogStore",
    "PredictionLogWriter",
    "PredictionRecord",
    "SpoolStats",
    "open_store",
    "spooled_between",
]
