"""The prediction log: every served prediction and feedback label, in SQLite or PostgreSQL.

The API submits a :class:`PredictionRecord` per prediction to a :class:`PredictionLogWriter`,
which writes them in batches off the request path; the monitoring job reads windows of them,
joined with their feedback, through :meth:`PredictionLogStore.read_window`.
"""

from sentimentops.prediction_log.store import (
    LABELS,
    WINDOW_COLUMNS,
    Label,
    PredictionLogStore,
    PredictionRecord,
    open_store,
    text_sha256,
)
from sentimentops.prediction_log.writer import PredictionLogWriter

__all__ = [
    "LABELS",
    "WINDOW_COLUMNS",
    "Label",
    "PredictionLogStore",
    "PredictionLogWriter",
    "PredictionRecord",
    "open_store",
    "text_sha256",
]
