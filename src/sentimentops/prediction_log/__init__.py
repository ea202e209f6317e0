"""The prediction log: every served prediction and feedback label, in SQLite or PostgreSQL.

The API submits a :class:`PredictionRecord` per prediction to a :class:`PredictionLogWriter`,
which writes batches off the request path; monitoring reads windows of them, with their feedback,
through :meth:`PredictionLogStore.read_window`.
"""

from sentimentops.prediction_log.store import (
    WINDOW_COLUMNS,
    Label,
    PredictionLogStore,
    PredictionRecord,
    open_store,
)
from sentimentops.prediction_log.writer import PredictionLogWriter

__all__ = [
    "WINDOW_COLUMNS",
    "Label",
    "PredictionLogStore",
    "PredictionLogWriter",
    "PredictionRecord",
    "open_store",
]
