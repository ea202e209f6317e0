"""Served predictions and their feedback labels: records, writes, windows read as frames; every
timestamp goes in and comes out UTC-aware."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sentimentops.config import Settings, get_settings
from sentimentops.errors import BadInputError
from sentimentops.prediction_log.database import Database
from sentimentops.prediction_log.schema import as_utc, feedback, predictions

__all__ = ["WINDOW_COLUMNS", "Label", "PredictionLogStore", "PredictionRecord", "open_store"]

Label = Literal["positive", "negative"]
LABELS: Final = ("positive", "negative")
DEFAULT_ROLE: Final = "champion"


def _storable_text(text: str) -> str:
    """``text`` as every supported database stores it: NUL (refused by PostgreSQL) becomes U+FFFD,
    a lone surrogate "?"; the hash and length still describe the text as received."""
    text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text


@dataclass(frozen=True)
class PredictionRecord:
    """One served prediction as logged (one per request id and ``role``, the model answering):
    ``timestamp`` in UTC, ``score`` the probability of "positive", ``text`` None if not kept."""

    timestamp: datetime
    request_id: str
    endpoint: str
    model_name: str
    model_version: str
    label: Label
    score: float
    latency_ms: float
    text_length: int
    text_sha256: str
    text: str | None
    role: str = DEFAULT_ROLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", as_utc(self.timestamp, "timestamp"))

    @classmethod
    def of(
        cls,
        text: str,
        *,
        store_text: bool,
        request_id: str,
        endpoint: str,
        model_name: str,
        model_version: str,
        label: Label,
        score: float,
        latency_ms: float,
        timestamp: datetime | None = None,
        role: str = DEFAULT_ROLE,
    ) -> PredictionRecord:
        """The record of scoring ``text`` (length and hash, the text if ``store_text``), now
        unless ``timestamp`` is given."""
        return cls(
            timestamp=timestamp or datetime.now(UTC),
            request_id=request_id,
            endpoint=endpoint,
            model_name=model_name,
            model_version=model_version,
            label=label,
            score=score,
            latency_ms=latency_ms,
            text_length=len(text),
            # Lone surrogates (valid in JSON) are hashed, not refused.
            text_sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            text=text if store_text else None,  # made storable by the writer, off the loop
            role=role,
        )


RECORD_FIELDS: Final = tuple(field.name for field in fields(PredictionRecord))
WINDOW_COLUMNS: Final = (*RECORD_FIELDS, "feedback_label")
_WINDOW_DTYPES: Final = {"score": "float64", "latency_ms": "float64", "text_length": "int64"}


class PredictionLogStore(Database):
    """Predictions and feedback labels in the prediction log's database. Every method raises
    PredictionLogUnavailableError when the database cannot be used right now."""

    def write_predictions(self, records: Sequence[PredictionRecord]) -> int:
        """Insert ``records`` in one transaction (a value refused raises the driver's error),
        skipping those whose request id and role are logged; returns how many were inserted."""
        if not records:
            return 0
        # vars(), not asdict(), which deep-copies every field: the writer thread holds the GIL.
        rows = [
            {**vars(record), "text": None if record.text is None else _storable_text(record.text)}
            for record in records
        ]
        with self.transaction("writing predictions") as connection:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(predictions).on_conflict_do_nothing(
                index_elements=["request_id", "role"]
            )
            return len(connection.execute(insert.returning(predictions.c.id), rows).all())

    def write_feedback(
        self, request_id: str, label: Label, received_at: datetime | None = None
    ) -> None:
        """Record the true ``label`` of ``request_id``'s prediction (the latest ``received_at``
        wins); BadInputError when ``label`` is not "positive" or "negative"."""
        if label not in LABELS:
            raise BadInputError(f"Feedback label must be one of {LABELS}, got {label!r}.")
        received = as_utc(received_at or datetime.now(UTC), "received_at")
        with self.transaction("writing feedback") as connection:
            row = {"request_id": request_id, "label": label, "received_at": received}
            connection.execute(feedback.insert(), row)

    def read_window(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """The predictions logged in ``[since, until)`` (None: open), oldest first, as
        :data:`WINDOW_COLUMNS` with the latest ``feedback_label``; ValueError for a naive time."""
        query = _window_query(since, until)  # before connecting: a naive time is a ValueError
        with self.transaction("reading predictions") as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=list(WINDOW_COLUMNS))
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame.astype(_WINDOW_DTYPES)

    def labelled_texts(self) -> pd.DataFrame:
        """Every logged request's text with a feedback label, once, as training rows ``review``
        and ``sentiment`` (texts kept only as a hash are left out)."""
        window = self.read_window()
        labelled = window[window["feedback_label"].notna() & window["text"].notna()]
        # A request scored by two models (champion and shadow) is one labelled text.
        labelled = labelled.drop_duplicates("request_id")
        return pd.DataFrame(
            {"review": labelled["text"], "sentiment": labelled["feedback_label"]}
        ).reset_index(drop=True)

    def has_prediction(self, request_id: str) -> bool:
        """Whether a prediction is logged under ``request_id``."""
        query = sa.select(predictions.c.id).where(predictions.c.request_id == request_id)
        with self.transaction("looking up a prediction") as connection:
            return connection.execute(query.limit(1)).first() is not None

    def count_predictions(self) -> int:
        """How many predictions are logged."""
        with self.transaction("counting predictions") as connection:
            query = sa.select(sa.func.count()).select_from(predictions)
            return int(connection.execute(query).scalar_one())


def open_store(settings: Settings | None = None) -> PredictionLogStore:
    """The store ``settings.prediction_log`` names, migrated. Raises ConfigError for a bad URL,
    PredictionLogUnavailableError when the database cannot be reached or migrated."""
    settings = settings or get_settings()
    store = PredictionLogStore(settings.prediction_log.resolved_url(settings.home))
    try:
        store.migrate()
    except BaseException:
        store.dispose()
        raise
    return store


def _window_query(since: datetime | None, until: datetime | None) -> sa.Select[Any]:
    latest_feedback = (
        sa.select(feedback.c.label)
        .where(feedback.c.request_id == predictions.c.request_id)
        .order_by(feedback.c.received_at.desc(), feedback.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("feedback_label")
    )
    query = sa.select(*(predictions.c[name] for name in RECORD_FIELDS), latest_feedback)
    if since is not None:
        query = query.where(predictions.c.timestamp >= as_utc(since, "since"))
    if until is not None:
        query = query.where(predictions.c.timestamp < as_utc(until, "until"))
    return query.order_by(predictions.c.timestamp, predictions.c.id)
