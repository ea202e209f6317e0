"""Request and response bodies of the API: what the OpenAPI schema promises clients.

Limits (text length, batch size) come from settings at app creation, so the schema a client
reads is the one the server enforces. Open Inference Protocol (KServe V2) bodies follow
https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model

from sentimentops.features.blank import NOT_BLANK_PATTERN, is_blank

__all__ = [
    "FEEDBACK_REQUEST_ID_PATTERN",
    "REQUEST_ID_PATTERN",
    "BatchPredictionResponse",
    "ErrorBody",
    "ErrorResponse",
    "FeedbackRequest",
    "FeedbackResponse",
    "Health",
    "InferenceOutput",
    "InferenceRequest",
    "InferenceResponse",
    "LogHealth",
    "ModelDescription",
    "ModelIdentity",
    "NgramContribution",
    "Prediction",
    "ReloadResponse",
    "V2Error",
    "V2Live",
    "V2ModelMetadata",
    "V2ModelReady",
    "V2Ready",
    "V2TensorMetadata",
    "request_models",
]

Label = Literal["positive", "negative"]


# What a client may send as a request id (the X-Request-ID header, a V2 request's id): short
# and safe to log.
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:-]{1,64}"
# What the API hands out as a prediction's request id, and so what feedback may name: a request
# id, or a batch item's ``<request id>.<index>``. [0-9], not \d: \d is any Unicode digit to the
# server's regex engine but ASCII to the ECMA-262 one clients and schemathesis read the schema with.
FEEDBACK_REQUEST_ID_PATTERN = rf"^{REQUEST_ID_PATTERN}(\.[0-9]+)?$"


class _Strict(BaseModel):
    # Unknown fields are a client bug worth reporting, not something to ignore silently.
    model_config = ConfigDict(extra="forbid")


def _not_blank(text: str) -> str:
    if is_blank(text):
        raise ValueError("the text is only whitespace; send the review itself")
    return text


@lru_cache(maxsize=8)
def request_models(max_text_chars: int, max_batch_size: int) -> tuple[type[Any], type[Any]]:
    """The single and batch prediction request bodies with the configured limits (built once per
    pair of limits: the Lambda handler asks on every event)."""
    text = Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_text_chars),
        AfterValidator(_not_blank),
        Field(
            description="One review, raw: HTML and unicode are cleaned by the model.",
            # is_blank() is this pattern: what clients are told is what the server checks.
            json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        ),
    ]
    single = create_model(
        "PredictionRequest",
        __base__=_Strict,
        text=(text, ...),
    )
    batch = create_model(
        "BatchPredictionRequest",
        __base__=_Strict,
        texts=(
            Annotated[list[text], Field(min_length=1, max_length=max_batch_size)],
            ...,
        ),
    )
    return single, batch


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


class FeedbackRequest(_Strict):
    # An id that matches no id the API hands out can never be joined to a prediction: refused
    # here (422), not stored, and never sent to the database (a lone surrogate or a NUL would
    # make the driver raise).
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


class Health(BaseModel):
    status: Literal["ok", "loading"]
    model: ModelIdentity | None = None
    error: str | None = None


class LogHealth(BaseModel):
    """The prediction log seen from this server process (``/health/log``)."""

    status: Literal["ok", "behind", "unavailable"] = Field(
        description="ok: nothing waits; behind: predictions wait in the spool for the database; "
        "unavailable: the database is away, nothing spooled yet."
    )
    database_available: bool
    queue_depth: int = Field(description="Predictions waiting in memory (normal: a batch).")
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


# ---- Open Inference Protocol (KServe V2) ----


class InferenceInput(_Strict):
    name: str
    # At most as many dimensions as data may be nested deep (api_v2._flatten).
    shape: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=8)]
    datatype: Literal["BYTES"]
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferenceRequestedOutput(_Strict):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(_Strict):
    # The same alphabet and length as X-Request-ID: it becomes the logged request id.
    id: Annotated[str, StringConstraints(pattern=f"^{REQUEST_ID_PATTERN}$")] | None = None
    parameters: dict[str, Any] | None = None
    inputs: Annotated[list[InferenceInput], Field(min_length=1, max_length=1)]
    outputs: list[InferenceRequestedOutput] | None = None


class InferenceOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Literal["BYTES", "FP64"]
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str
    outputs: list[InferenceOutput]


class V2Live(BaseModel):
    live: bool


class V2Ready(BaseModel):
    ready: bool


class V2TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2ModelReady(BaseModel):
    name: str
    ready: bool


class V2Error(BaseModel):
    error: str
