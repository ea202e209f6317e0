"""``/v2``: the Open Inference Protocol (KServe V2) subset that KServe/Triton HTTP clients use.

The model takes one BYTES input tensor of texts (any name, shape ``[n]`` or ``[n, 1]``) and
returns two outputs: ``label`` (BYTES) and ``score`` (FP64, probability of positive).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from sentimentops.features.blank import is_blank
from sentimentops.serving.api_v1 import require_api_key, state_of
from sentimentops.serving.errors import ApiError, request_id_of
from sentimentops.serving.schemas import (
    InferenceOutput,
    InferenceRequest,
    InferenceResponse,
    V2Error,
    V2Live,
    V2ModelMetadata,
    V2ModelReady,
    V2Ready,
    V2TensorMetadata,
)

__all__ = ["build_v2_router"]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": V2Error} for status in (400, 401, 404, 413, 422, 503, 504)
}


def build_v2_router(max_batch_size: int, max_text_chars: int) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"])
    protected = [Depends(require_api_key)]

    @router.get("/health/live", response_model=V2Live)
    async def live() -> V2Live:
        return V2Live(live=True)

    @router.get("/health/ready", response_model=V2Ready, responses={503: {"model": V2Error}})
    async def ready(request: Request) -> V2Ready:
        if state_of(request).slot.current is None:
            raise ApiError(503, "model not loaded yet")
        return V2Ready(ready=True)

    @router.get(
        "/models/{name}", response_model=V2ModelMetadata, dependencies=protected, responses=ERRORS
    )
    async def metadata(name: str, request: Request) -> V2ModelMetadata:
        model = _served(request, name)
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

    @router.get(
        "/models/{name}/ready",
        response_model=V2ModelReady,
        dependencies=protected,
        responses=ERRORS,
    )
    async def model_ready(name: str, request: Request) -> V2ModelReady:
        model = _served(request, name)
        return V2ModelReady(name=model.name, ready=True)

    @router.post(
        "/models/{name}/infer",
        response_model=InferenceResponse,
        dependencies=protected,
        responses=ERRORS,
    )
    async def infer(name: str, body: InferenceRequest, request: Request) -> InferenceResponse:
        """Score a BYTES tensor of review texts."""
        _served(request, name)
        texts = _texts_of(body, max_batch_size, max_text_chars)
        # Checked before scoring: a refused request must not leave predictions in the log.
        wanted = {output.name for output in body.outputs or []} or {"label", "score"}
        unknown = wanted - {"label", "score"}
        if unknown:
            raise ApiError(400, f"unknown outputs {sorted(unknown)}; this model has label, score")
        request_id = body.id or request_id_of(request)
        scored = await state_of(request).predict(
            texts,
            request_id=request_id,
            endpoint="/v2/models/{name}/infer",
            itemize=True,
            refusal_status=400,  # the protocol's status for a bad input tensor
        )
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

    return router


def _served(request: Request, name: str) -> Any:
    model = state_of(request).slot.current
    if model is None:
        raise ApiError(503, "model not loaded yet")
    if name != model.name:
        raise ApiError(404, f"no model named {name!r}; this server serves {model.name!r}")
    return model


def _texts_of(body: InferenceRequest, max_batch_size: int, max_text_chars: int) -> list[str]:
    tensor = body.inputs[0]
    texts = _flatten(tensor.data)
    expected = 1
    for dimension in tensor.shape:
        # Capped as it grows: [10**300] * 15 must cost neither a 4,500-digit product nor an
        # error message that Python refuses to print.
        expected = min(expected * dimension, max_batch_size + 1)
    if expected > max_batch_size:
        raise ApiError(400, f"input shape holds over {max_batch_size} texts, the most per request")
    if len(texts) != expected:
        raise ApiError(400, f"input shape {tensor.shape} holds {expected} texts, got {len(texts)}")
    if not 1 <= len(texts) <= max_batch_size:
        raise ApiError(400, f"send between 1 and {max_batch_size} texts, got {len(texts)}")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or is_blank(text):
            raise ApiError(400, f"input element {index} is not a string with a review in it")
        if len(text) > max_text_chars:
            raise ApiError(400, f"input element {index} is over {max_text_chars:,} characters")
    return texts


def _flatten(data: list[Any]) -> list[Any]:
    """Row-major flattening of nested lists (KServe clients send ``[[t1], [t2]]`` too).

    Iterative, so a deeply nested body cannot exhaust the stack.
    """
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            if len(stack) > 8:
                raise ApiError(400, "input data nested deeper than 8 levels")
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


_END = object()
