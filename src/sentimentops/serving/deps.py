"""What the routes depend on, as named ``Annotated`` types: state, request id, caller, API key,
bodies within limits. All async: FastAPI runs a plain ``def`` dependency in a thread."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import ValidationError

from sentimentops.config import Settings
from sentimentops.serving.errors import ApiError, request_id_of
from sentimentops.serving.rollout import caller_key
from sentimentops.serving.schemas import BatchPredictionRequest, PredictionRequest, check_limits
from sentimentops.serving.state import ApiState

__all__ = [
    "BatchBody",
    "Caller",
    "PredictionBody",
    "RequestId",
    "State",
    "check_api_key",
    "require_api_key",
]


async def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def _request_id(request: Request) -> str:
    return request_id_of(request)


async def _caller(request: Request) -> str | None:
    return caller_key(request.headers.get("x-client-id"))


State = Annotated[ApiState, Depends(_state)]
RequestId = Annotated[str, Depends(_request_id)]
# Who asks: X-Client-ID; None for an anonymous caller.
Caller = Annotated[str | None, Depends(_caller)]


def check_api_key(settings: Settings, presented: str | None) -> None:
    """Raise ApiError (401) unless ``presented`` is the configured API key (if one is set)."""
    expected = settings.api_key
    if expected is None:
        return
    # Constant-time comparison: response timing must not reveal how much of a key matched.
    if presented is None or not hmac.compare_digest(
        presented.encode(), expected.get_secret_value().encode()
    ):
        raise ApiError(
            401,
            "Missing or wrong API key: send it in the X-API-Key header.",
            headers={"WWW-Authenticate": "ApiKey"},
        )


async def require_api_key(
    state: State,
    key: Annotated[str | None, Security(APIKeyHeader(name="X-API-Key", auto_error=False))] = None,
) -> None:
    """Refuse (401) a request without the configured API key."""
    check_api_key(state.settings, key)


def _within_limits(texts: list[str], state: ApiState, *, batch: bool) -> None:
    try:
        check_limits(texts, state.settings.serving, batch=batch)
    except ValidationError as error:  # answered as FastAPI answers the body's own errors
        problems = [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
        raise RequestValidationError(problems) from None


async def _prediction(body: PredictionRequest, state: State) -> PredictionRequest:
    _within_limits([body.text], state, batch=False)
    return body


async def _batch(body: BatchPredictionRequest, state: State) -> BatchPredictionRequest:
    _within_limits(body.texts, state, batch=True)
    return body


PredictionBody = Annotated[PredictionRequest, Depends(_prediction)]
BatchBody = Annotated[BatchPredictionRequest, Depends(_batch)]
