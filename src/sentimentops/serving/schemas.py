"""Request and response bodies of the API (``/v2``'s are in api_v2.py); the limits from
settings are checked by :func:`check_limits` and published by :func:`publish_limits`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from sentimentops.config import ServingSettings
from sentimentops.features.blank import NOT_BLANK_PATTERN, is_blank

__all__ = [
    "FEEDBACK_REQUEST_ID_PATTERN",
    "REQUEST_ID_PATTERN",
    "BatchPredictionRequest",
    "BatchPredictionResponse",
    "ErrorBody",
    "ErrorResponse",
    "FeedbackRequest",
    "FeedbackResponse",
    "Health",
    "LogHealth",
    "ModelDescription",
    "ModelIdentity",
    "NgramContribution",
    "Prediction",
    "PredictionRequest",
    "ReloadResponse",
    "Rollout",
    "StrictBody",
    "check_limits",
    "publish_limits",
    "replace_lone_surrogates",
]

Label = Literal["positive", "negative"]

# A client's request id (X-Request-ID, a V2 request's id): short and safe to log.
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:-]{1,64}"
# What feedback may name: a request id, or a batch item's ``<request id>.<index>``. [0-9], not
# \d: to clients' ECMA-262 regex engine \d is ASCII, to the server's any Unicode digit.
FEEDBACK_REQUEST_ID_PATTERN = rf"^{REQUEST_ID_PATTERN}(\.[0-9]+)?$"


class StrictBody(BaseModel):
    """A request body that refuses unknown fields: a client's bug, reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


# A surrogate code point in a decoded JSON string: "\ud800" (json.loads joins escaped pairs).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (valid JSON, but no Unicode character: UTF-8 and the
    prediction log cannot hold it) replaced by U+FFFD, as a UTF-8 decoder replaces bad bytes."""
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)


def _well_formed(value: object) -> object:
    return replace_lone_surrogates(value) if isinstance(value, str) else value


def _not_blank(text: str) -> str:
    if is_blank(text):
        raise ValueError("the text is only whitespace; send the review itself")
    return text


Text = Annotated[
    str,
    StringConstraints(min_length=1),
    AfterValidator(_not_blank),
    Field(
        description="One review, raw: HTML and unicode are cleaned by the model.",
        # is_blank() is this pattern: what clients are told is what the server checks.
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    ),
    # Last, so it runs first: pydantic's str check refuses a lone surrogate outright.
    BeforeValidator(_well_formed),
]


class PredictionRequest(StrictBody):
    text: Text


class BatchPredictionRequest(StrictBody):
    texts: Annotated[list[Text], Field(min_length=1)]


def check_limits(texts: list[str], serving: ServingSettings, *, batch: bool) -> list[str]:
    """``texts``, once within ``serving.max_batch_size`` (for a ``batch``) and
    ``serving.max_text_chars``; else pydantic's ValidationError, located as the field's."""
    if batch and len(texts) > serving.max_batch_size:
        size = {"field_type": "List", "max_length": serving.max_batch_size}
        problems: list[Any] = [
            {"type": "too_long", "loc": ("texts",), "ctx": size | {"actual_length": len(texts)}}
        ]
    else:
        problems = [
            {
                "type": "string_too_long",
                "loc": ("texts", index) if batch else ("text",),
                "ctx": {"max_length": serving.max_text_chars},
            }
            for index, text in enumerate(texts)
            if len(text) > serving.max_text_chars
        ]
    if problems:
        title = BatchPredictionRequest if batch else PredictionRequest
        raise ValidationError.from_exception_data(title.__name__, problems)
    return texts


def publish_limits(schemas: dict[str, Any], serving: ServingSettings) -> None:
    """Write the limits :func:`check_limits` enforces into the OpenAPI ``schemas``."""
    chars = {"maxLength": serving.max_text_chars}
    schemas["PredictionRequest"]["properties"]["text"].update(chars)
    texts = schemas["BatchPredictionRequest"]["properties"]["texts"]
    texts["items"].update(chars)
    texts["maxItems"] = serving.max_batch_size


class ModelIdentity(BaseModel):
    name: str
    version: str


class NgramContribution(BaseModel):
    ngram: str
    weight: float = Field(description="Contribution to the score; positive pushes to positive.")


class Prediction(BaseModel):
    label: Label
    score: float = Field(ge=0.0, le=1.0, description="Probability of positive.")
    model: ModelIdentity
    request_id: str
    explanation: list[NgramContribution] | None = None


class BatchPredictionResponse(BaseModel):
    predictions: list[Prediction]
    model: ModelIdentity
    request_id: str


class FeedbackRequest(StrictBody):
    # An id the API never hands out is refused (422): it could never join a prediction, and a
    # lone surrogate or a NUL would make the database driver raise.
    request_id: Annotated[
        str,
        StringConstraints(min_length=1, max_length=128, pattern=FEEDBACK_REQUEST_ID_PATTERN),
        Field(
            description="The request_id of the prediction: of a single prediction, or of one "
            "batch item (`<request id>.<index>`)."
        ),
    ]
    label: Label


class FeedbackResponse(BaseModel):
    status: Literal["accepted"]
    request_id: str


class ModelDescription(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the served model itself

    name: str
    version: str
    uri: str
    alias: str | None
    run_id: str | None
    metrics: dict[str, float]
    data_digest: str | None
    loaded_at: datetime


class ReloadResponse(BaseModel):
    reloaded: bool
    model: ModelDescription
    error: str | None


class Rollout(BaseModel):
    """The challenger's part in the traffic (docs/serving.md, Rollout)."""

    shadow_share: float = Field(description="Of requests also scored by the challenger, unsent.")
    canary_share: float = Field(description="Of clients answered by the challenger.")
    challenger: ModelIdentity | None = Field(
        description="The challenger in play; null: none loaded, or it is the champion itself."
    )
    shadow_queue_depth: int
    shadow_dropped: int
    note: str | None = Field(None, description="Why no challenger is in play.")


class Health(BaseModel):
    status: Literal["ok", "loading"]
    model: ModelIdentity | None = None
    error: str | None = None
    rollout: Rollout | None = Field(None, description="null while no share is set.")


class LogHealth(BaseModel):
    """The prediction log seen from this server process (``/health/log``)."""

    status: Literal["ok", "behind", "unavailable"] = Field(
        description="ok: nothing waits; behind: predictions wait in the spool for the database; "
        "unavailable: the database is away, nothing spooled yet."
    )
    database_available: bool
    queue_depth: int = Field(
        description="Predictions waiting in memory: queued, or in the batch being written "
        "(normal: up to a batch)."
    )
    spool_records: int
    spool_bytes: int
    spool_max_bytes: int
    spool_oldest: datetime | None = Field(description="Timestamp of the oldest spooled prediction.")
    written: int = Field(description="Rows this process inserted.")
    replayed: int = Field(description="Predictions delivered from the spool.")
    dropped: int = Field(description="Predictions not logged: the spool was full.")
    rejected: int = Field(description="Predictions the database refused.")


class ErrorBody(BaseModel):
    type: str = Field(description="Stable machine-readable kind, e.g. validation_error.")
    message: str
    request_id: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
