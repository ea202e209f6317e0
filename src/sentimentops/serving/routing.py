"""The API's route class: what refuses a request whatever its body is checked before FastAPI
reads and validates the body."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers

from sentimentops.serving.deps import check_api_key, require_api_key
from sentimentops.serving.errors import ApiError
from sentimentops.serving.state import ApiState

__all__ = ["GuardedRoute"]

_EMPTY_BODY = "The request body is empty; send a JSON object (Content-Type: application/json)."
# Codings that leave the body as sent.
_PLAIN_CODINGS = frozenset({"", "identity"})
# How much of a refused Content-Encoding header the answer repeats.
_SHOWN_HEADER_CHARS = 40


class GuardedRoute(APIRoute):
    """An APIRoute that, before FastAPI reads the body, refuses a request without the API key
    when the route needs one (401), then, on a route that takes a body, a compressed body (415)
    and an empty one (400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        # FastAPI parses the body before it solves any dependency: require_api_key alone lets a
        # malformed body without a key get its 400 or 422 instead of 401. It stays a dependency
        # for the OpenAPI schema's security scheme.
        needs_key = any(depends.dependency is require_api_key for depends in self.dependencies)
        takes_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            if needs_key:
                state: ApiState = request.app.state.api
                check_api_key(state.settings, request.headers.get("x-api-key"))
            if takes_body:
                _refuse_encoded(request.headers)
                if not await request.body():  # kept by the request: FastAPI reads it again
                    raise ApiError(400, _EMPTY_BODY)
            return await handle(request)

        return guarded


def _refuse_encoded(headers: Headers) -> None:
    """Raise ApiError (415) for a body sent with a Content-Encoding other than identity: the API
    does not decompress (nor would a zip bomb be counted against the body limit as it inflates)."""
    sent = ", ".join(headers.getlist("content-encoding"))
    codings = {coding.strip().lower() for coding in sent.split(",")}
    if codings <= _PLAIN_CODINGS:
        return
    shown = sent if len(sent) <= _SHOWN_HEADER_CHARS else f"{sent[:_SHOWN_HEADER_CHARS]}..."
    raise ApiError(
        415,
        f"Content-Encoding {shown!r} is not accepted: send the JSON body uncompressed, without "
        "Content-Encoding (or with identity).",
        headers={"Accept-Encoding": "identity"},
    )
