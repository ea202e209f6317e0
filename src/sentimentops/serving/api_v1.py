"""``/v1``: predictions (one text or a batch), feedback labels, and the served model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query

from sentimentops.errors import PredictionLogUnavailableError
from sentimentops.serving import schemas
from sentimentops.serving.deps import (
    BatchBody,
    Caller,
    PredictionBody,
    RequestId,
    State,
    require_api_key,
)
from sentimentops.serving.errors import ApiError
from sentimentops.serving.routing import GuardedRoute

if TYPE_CHECKING:
    from sentimentops.tracking.loading import LoadedModel

__all__ = ["router"]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorResponse} for status in (401, 413, 422, 503, 504)
}
# A route with a body also answers one that is not JSON, empty (400) or compressed (415).
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorResponse} for status in (400, 415)
}

router = APIRouter(
    prefix="/v1",
    tags=["predictions"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
    route_class=GuardedRoute,
)


Explain = Annotated[bool, Query(description="Add the n-grams that moved the score most.")]


@router.post("/predict", responses=BODY_ERRORS)
async def predict(
    body: PredictionBody,
    state: State,
    request_id: RequestId,
    caller: Caller,
    explain: Explain = False,
) -> schemas.Prediction:
    """Label one review: positive or negative, with the probability of positive; ``model``
    names the version that answered (during a canary rollout, the challenger for some
    clients: send X-Client-ID to stay with one)."""
    scored = await state.predict(
        [body.text], request_id=request_id, endpoint="/v1/predict", itemize=False, caller=caller
    )
    (explanation,) = await _explanations(scored.model, [body.text], explain)
    return schemas.Prediction(
        label=scored.labels[0],
        score=scored.scores[0],
        model=schemas.ModelIdentity(name=scored.model.name, version=scored.model.version),
        request_id=scored.request_ids[0],
        explanation=explanation,
    )


@router.post("/predict/batch", responses=BODY_ERRORS)
async def predict_batch(
    body: BatchBody, state: State, request_id: RequestId, caller: Caller, explain: Explain = False
) -> schemas.BatchPredictionResponse:
    """Label several reviews in one call; predictions come back in the order sent, all from
    one model."""
    scored = await state.predict(
        body.texts,
        request_id=request_id,
        endpoint="/v1/predict/batch",
        itemize=True,
        caller=caller,
    )
    identity = schemas.ModelIdentity(name=scored.model.name, version=scored.model.version)
    explanations = await _explanations(scored.model, body.texts, explain)
    predictions = [
        schemas.Prediction(
            label=label, score=score, model=identity, request_id=item_id, explanation=explanation
        )
        for label, score, item_id, explanation in zip(
            scored.labels, scored.scores, scored.request_ids, explanations, strict=True
        )
    ]
    return schemas.BatchPredictionResponse(
        predictions=predictions, model=identity, request_id=request_id
    )


async def _explanations(
    model: LoadedModel, texts: list[str], explain: bool
) -> list[list[schemas.NgramContribution] | None]:
    """Each text's n-grams that moved its score most, when asked for (off the event loop)."""
    if not explain:
        return [None] * len(texts)
    rows = await asyncio.to_thread(model.explain, texts)
    return [[schemas.NgramContribution(ngram=n, weight=w) for n, w in row] for row in rows]


@router.post("/feedback", status_code=202, responses=BODY_ERRORS)
async def feedback(body: schemas.FeedbackRequest, state: State) -> schemas.FeedbackResponse:
    """Record the true label of an earlier prediction, named by its request_id: one this
    API answered, else 422."""
    try:
        await state.require_answered(body.request_id)
        await asyncio.to_thread(
            state.store.write_feedback, body.request_id, body.label, datetime.now(UTC)
        )
    except PredictionLogUnavailableError:
        # Only an outage is worth retrying; anything else is a bug of ours: a logged 500.
        raise ApiError(
            503, "The prediction log cannot store feedback right now; retry later."
        ) from None
    return schemas.FeedbackResponse(status="accepted", request_id=body.request_id)


@router.get("/model")
async def model(state: State) -> schemas.ModelDescription:
    """The served model: name, version, alias, run, test metrics and training data digest."""
    return schemas.ModelDescription.model_validate(state.ready_model())
