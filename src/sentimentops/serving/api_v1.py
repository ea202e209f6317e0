"""``/v1``: predictions (one text or a batch), feedback labels, and the served model.

No ``from __future__ import annotations`` here: the request bodies are classes built at app
creation (their limits come from settings), and FastAPI must see them as real objects.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from sentimentops.errors import PredictionLogUnavailableError
from sentimentops.serving.errors import ApiError, request_id_of
from sentimentops.serving.schemas import (
    BatchPredictionResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    ModelDescription,
    ModelIdentity,
    NgramContribution,
    Prediction,
)
from sentimentops.serving.state import ApiState

__all__ = ["api_key_header", "build_v1_router", "require_api_key", "state_of"]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (401, 413, 422, 503, 504)
}


def state_of(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def require_api_key(
    request: Request, key: Annotated[str | None, Security(api_key_header)] = None
) -> None:
    # async: FastAPI runs a sync dependency in a worker thread, a hop per request for a check
    # that takes microseconds.
    state_of(request).check_api_key(key)


def build_v1_router(single_request: type[Any], batch_request: type[Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["predictions"], dependencies=[Depends(require_api_key)])

    @router.post("/predict", response_model=Prediction, responses=ERRORS)
    async def predict(
        body: single_request,  # type: ignore[valid-type]
        request: Request,
        explain: Annotated[
            bool, Query(description="Add the n-grams that moved the score most.")
        ] = False,
    ) -> Prediction:
        """Label one review: positive or negative, with the probability of positive."""
        state = state_of(request)
        text: str = body.text  # type: ignore[attr-defined]
        scored = await state.predict(
            [text], request_id=request_id_of(request), endpoint="/v1/predict", itemize=False
        )
        explanation = None
        if explain:
            rows = await asyncio.to_thread(scored.model.explain, [text])
            explanation = [NgramContribution(ngram=n, weight=w) for n, w in rows[0]]
        return Prediction(
            label=scored.labels[0],
            score=scored.scores[0],
            model=ModelIdentity(name=scored.model.name, version=scored.model.version),
            request_id=scored.request_ids[0],
            explanation=explanation,
        )

    @router.post("/predict/batch", response_model=BatchPredictionResponse, responses=ERRORS)
    async def predict_batch(
        body: batch_request,  # type: ignore[valid-type]
        request: Request,
    ) -> BatchPredictionResponse:
        """Label several reviews in one call; predictions come back in the order sent."""
        state = state_of(request)
        request_id = request_id_of(request)
        texts: list[str] = body.texts  # type: ignore[attr-defined]
        scored = await state.predict(
            texts, request_id=request_id, endpoint="/v1/predict/batch", itemize=True
        )
        identity = ModelIdentity(name=scored.model.name, version=scored.model.version)
        return BatchPredictionResponse(
            predictions=[
                Prediction(label=label, score=score, model=identity, request_id=item_id)
                for label, score, item_id in zip(
                    scored.labels, scored.scores, scored.request_ids, strict=True
                )
            ],
            model=identity,
            request_id=request_id,
        )

    @router.post("/feedback", response_model=FeedbackResponse, status_code=202, responses=ERRORS)
    async def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        """Record the true label of an earlier prediction, named by its request_id: one this
        API answered, else 422."""
        state = state_of(request)
        try:
            await state.require_answered(body.request_id)
            await asyncio.to_thread(
                state.store.write_feedback, body.request_id, body.label, datetime.now(UTC)
            )
        except PredictionLogUnavailableError:
            # Only an outage is worth retrying. Anything else is a bug of ours: the app's
            # handler answers 500 and logs it, rather than telling the client to retry in vain.
            raise ApiError(
                503,
                "The prediction log cannot store feedback right now; retry later.",
            ) from None
        return FeedbackResponse(status="accepted", request_id=body.request_id)

    @router.get("/model", response_model=ModelDescription, responses=ERRORS)
    async def model(request: Request) -> dict[str, Any]:
        """The served model: name, version, alias, run, test metrics and training data digest."""
        return state_of(request).describe_model()

    return router
