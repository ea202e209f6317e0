"""The API's errors and their one JSON shape: ``{"error": {"type", "message", "request_id",
"details"?}}``, on ``/v2`` ``{"error": "message"}`` as KServe and Triton clients expect."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sentimentops.errors import BadInputError, SentimentOpsError

__all__ = [
    "ApiError",
    "ModelNotReadyError",
    "NothingToScoreError",
    "ScoringTimeoutError",
    "UnknownRequestIdError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "request_id_of",
]

log = logging.getLogger(__name__)

# The stable ``error.type`` of each HTTP status.
_ERROR_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An HTTP answer, raised at the edge (routes, dependencies)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers
        self.type = type or _ERROR_TYPES.get(status, "error")


class ModelNotReadyError(SentimentOpsError):
    """No model is loaded yet."""

    http_status = 503
    error_type = "model_not_ready"


class ScoringTimeoutError(SentimentOpsError):
    """Scoring did not start before the request's deadline."""

    http_status = 504


class NothingToScoreError(BadInputError):
    """A text has nothing left to score after cleaning."""


class UnknownRequestIdError(BadInputError):
    """No prediction was answered under the request id feedback names."""

    error_type = "unknown_request_id"


def request_id_of(scope_or_request: Any) -> str:
    """The request id :class:`~sentimentops.serving.middleware.RequestGuard` gave the request."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    return str(scope.get("state", {}).get("request_id", ""))


def error_body(
    status: int,
    message: str,
    *,
    request_id: str,
    type: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``error`` object of every /v1 error answer (and of the Lambda handler's)."""
    kind = type or _ERROR_TYPES.get(status, "error")
    body = {"type": kind, "message": message, "request_id": request_id}
    return body if details is None else {**body, "details": details}


def error_response(
    path: str,
    status: int,
    message: str,
    *,
    request_id: str,
    type: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The answer to an error on ``path``, in the shape of its API version."""
    if path.startswith("/v2/"):
        content: dict[str, Any] = {"error": message}
    else:
        body = error_body(status, message, request_id=request_id, type=type, details=details)
        content = {"error": body}
    headers = {**(headers or {}), "X-Request-ID": request_id}
    return JSONResponse(content, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the shape above, and an unexpected one with 500, no traceback."""

    def answer(request: Request, status: int, message: str, **extra: Any) -> JSONResponse:
        return error_response(
            request.url.path, status, message, request_id=request_id_of(request), **extra
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return answer(request, error.status, error.message, type=error.type, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        for item in error.errors():
            if item.get("type") == "json_invalid":
                # Not JSON is a 400; 422 is for JSON that does not match the schema.
                reason = str(item.get("ctx", {}).get("error", "malformed")).removesuffix(" at")
                position = item.get("loc", ("body", "?"))[-1]
                not_json = (
                    f"The request body is not valid JSON ({reason} at character {position}); "
                    "send a JSON object."
                )
                return answer(request, 400, not_json)
        details = [
            {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg"))}
            for item in error.errors()
        ]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:5])
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body_refused = any(d["loc"][:1] == ["body"] for d in details)
        if body_refused and not (media_type == "application/json" or media_type.endswith("+json")):
            # FastAPI reads a body as JSON only when it says it is (curl -d sends a form).
            sent = f"Content-Type {media_type}" if media_type else "no Content-Type"
            summary += (
                f". The body came with {sent}, so it was not read as JSON: send it with "
                "Content-Type: application/json"
            )
        return answer(request, 422, f"Invalid request: {summary}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = _body_fault(error.__cause__) or str(error.detail)
        return answer(request, error.status_code, message, headers=dict(error.headers or {}))

    @app.exception_handler(SentimentOpsError)
    async def known_error(request: Request, error: SentimentOpsError) -> JSONResponse:
        kind = getattr(error, "error_type", None)  # else the status's
        return answer(request, error.http_status, str(error), type=kind)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        message = "Internal error; the server log has the details under this request id."
        return answer(request, 500, message)


def _body_fault(cause: BaseException | None) -> str | None:
    """What was wrong with a body FastAPI could not parse: its words ("There was an error
    parsing the body") are the same whatever the fault."""
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"The request body is not UTF-8 ({cause.reason} at byte {cause.start}); send JSON "
            "encoded as UTF-8, whatever the charset says."
        )
    if isinstance(cause, RecursionError):
        return "The request body nests too deeply to be parsed; send a JSON object."
    return None
