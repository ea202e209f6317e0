"""``/v2``: the Open Inference Protocol (KServe V2) subset KServe and Triton clients use: one
BYTES tensor of texts in; ``label`` (BYTES) and ``score`` (FP64, P(positive)) out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints

from sentimentops.config import ServingSettings
from sentimentops.features.blank import is_blank
from sentimentops.serving.api_ops import probe
from sentimentops.serving.deps import Caller, RequestId, State, require_api_key
from sentimentops.serving.errors import ApiError, NothingToScoreError
from sentimentops.serving.routing import GuardedRoute
from sentimentops.serving.schemas import REQUEST_ID_PATTERN, StrictBody, replace_lone_surrogates
from sentimentops.serving.state import ApiState
from sentimentops.tracking.loading import LoadedModel

__all__ = ["router"]


class InferenceInput(StrictBody):
    name: str
    # At most 8 dimensions: nested data is read that deep at most (_unnested).
    shape: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=8)]
    datatype: Literal["BYTES"]
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferenceRequestedOutput(StrictBody):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(StrictBody):
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


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": V2Error} for status in (400, 401, 404, 413, 422, 503, 504)
}
PROTECTED = [Depends(require_api_key)]

router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"], route_class=GuardedRoute)


@probe(router, "/health/live")
async def live() -> V2Live:
    return V2Live(live=True)


@probe(router, "/health/ready", responses={503: {"model": V2Error}})
async def ready(state: State) -> V2Ready:
    if state.slot.current is None:
        raise ApiError(503, "model not loaded yet")
    return V2Ready(ready=True)


@router.get("/models/{name}", dependencies=PROTECTED, responses=ERRORS)
async def metadata(name: str, state: State) -> V2ModelMetadata:
    model = _served(state, name)
    return V2ModelMetadata(
        name=model.name,
        versions=[model.version],
        platform="sentimentops-sklearn",
        inputs=[V2TensorMetadata(name="text", datatype="BYTES", shape=[-1])],
        outputs=[
            V2TensorMetadata(name="label", datatype="BYTES", shape=[-1]),
            V2TensorMetadata(name="score", datatype="FP64", shape=[-1]),
        ],
    )


@router.get("/models/{name}/ready", dependencies=PROTECTED, responses=ERRORS)
async def model_ready(name: str, state: State) -> V2ModelReady:
    return V2ModelReady(name=_served(state, name).name, ready=True)


@router.post(
    "/models/{name}/infer",
    dependencies=PROTECTED,
    responses={**ERRORS, 415: {"model": V2Error}},  # a compressed body
)
async def infer(
    name: str, body: InferenceRequest, state: State, request_id: RequestId, caller: Caller
) -> InferenceResponse:
    """Score a BYTES tensor of review texts."""
    _served(state, name)
    texts = _texts_of(body, state.settings.serving)
    # Checked before scoring: a refused request must not leave predictions in the log.
    wanted = {output.name for output in body.outputs or []} or {"label", "score"}
    if unknown := wanted - {"label", "score"}:
        raise ApiError(400, f"unknown outputs {sorted(unknown)}; this model has label, score")
    request_id = body.id or request_id
    try:
        scored = await state.predict(
            texts,
            request_id=request_id,
            endpoint="/v2/models/{name}/infer",
            itemize=True,
            caller=caller,
        )
    except NothingToScoreError as error:
        raise ApiError(400, str(error)) from None  # the protocol's status for a bad input tensor
    outputs = [
        InferenceOutput(name="label", shape=[len(texts)], datatype="BYTES", data=scored.labels),
        InferenceOutput(name="score", shape=[len(texts)], datatype="FP64", data=scored.scores),
    ]
    return InferenceResponse(
        model_name=scored.model.name,
        model_version=scored.model.version,
        id=request_id,
        outputs=[output for output in outputs if output.name in wanted],
    )


def _served(state: ApiState, name: str) -> LoadedModel:
    model = state.slot.current
    if model is None:
        raise ApiError(503, "model not loaded yet")
    if name != model.name:
        raise ApiError(404, f"no model named {name!r}; this server serves {model.name!r}")
    return model


def _texts_of(body: InferenceRequest, serving: ServingSettings) -> list[str]:
    max_batch_size, max_text_chars = serving.max_batch_size, serving.max_text_chars
    tensor = body.inputs[0]
    expected = 1
    for dimension in tensor.shape:
        # Capped as it grows: [10**300] * 15 must not make a 4,500-digit product.
        expected = min(expected * dimension, max_batch_size + 1)
    if expected > max_batch_size:
        raise ApiError(400, f"input shape holds over {max_batch_size} texts, the most per request")
    texts = tensor.data
    # The protocol allows flat row-major data; nested data must be nested as the shape.
    if any(isinstance(item, list) for item in texts):
        texts = _unnested(texts, tensor.shape)
    if len(texts) != expected:
        raise ApiError(400, f"input shape {tensor.shape} holds {expected} texts, got {len(texts)}")
    if not 1 <= len(texts) <= max_batch_size:
        raise ApiError(400, f"send between 1 and {max_batch_size} texts, got {len(texts)}")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or is_blank(text):
            raise ApiError(400, f"input element {index} is not a string with a review in it")
        if len(text) > max_text_chars:
            raise ApiError(400, f"input element {index} is over {max_text_chars:,} characters")
    # As /v1's schema does: the text scored is the text logged, a valid Unicode string.
    return [replace_lone_surrogates(text) for text in texts]


def _unnested(data: list[Any], shape: list[int], depth: int = 0, at: str = "data") -> list[Any]:
    """Row-major flattening of ``data`` nested exactly as ``shape``: a ragged ``[["a", "b"],
    ["c"]]`` is no [2, 2] tensor. Recursion stops at len(shape), at most 8 levels."""
    if len(data) != shape[depth]:
        elements = "1 element" if len(data) == 1 else f"{len(data)} elements"
        raise _ragged(shape, f"{at} has {elements}, not {shape[depth]}")
    inner = depth + 1 < len(shape)
    flat: list[Any] = []
    for index, item in enumerate(data):
        if isinstance(item, list) != inner:
            wrong = "nested deeper than the shape" if isinstance(item, list) else "not a list"
            raise _ragged(shape, f"{at}[{index}] is {wrong}")
        flat.extend(_unnested(item, shape, depth + 1, f"{at}[{index}]") if inner else [item])
    return flat


def _ragged(shape: list[int], problem: str) -> ApiError:
    return ApiError(
        400,
        f"input data does not match shape {shape}: {problem}; nest it as the shape or send it flat",
    )
