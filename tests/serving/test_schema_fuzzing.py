"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis): whatever a
client sends, no 5xx, and every response matches what the schema promises."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from sentimentops.serving.app import create_app
from tests.servers import free_port
from tests.serving.conftest import settings_with

KEY = "fuzzing-key"


def valid_data_is_accepted_unless_the_schema_cannot_say_why(
    ctx: object, response: object, case: object
) -> bool | None:
    """schemathesis' positive_data_acceptance, but for the two refusals a schema cannot express:
    a text that cleaning leaves empty (markup, entities, control characters such as
    ``"\u0086\u001a"``) is refused as having nothing to score, as batch prediction rejects it;
    feedback naming a request id no prediction was answered under is refused as unknown. Any
    other refusal of schema-valid data still fails."""
    content: bytes = response.content  # type: ignore[attr-defined]
    if b"nothing left to score after cleaning" in content or b'"unknown_request_id"' in content:
        return None
    return positive_data_acceptance(ctx, response, case)  # type: ignore[arg-type]


@pytest.fixture
def api_schema(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The API on a real uvicorn server in this process, and the schema it publishes."""
    app = create_app(
        settings_with(
            monkeypatch,
            serving__model_uri=str(model_folder),
            serving__reload_interval_seconds="0",
            serving__max_text_chars="2000",
            serving__max_batch_size="8",
            api_key=KEY,  # as in production: schemathesis also checks a wrong key is refused
            serving__expose_docs="true",  # a guarded API publishes its schema only if asked
            prediction_log__flush_seconds="0.05",  # an unknown feedback id waits one flush
        )
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health/ready").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("the API was not ready within 60 s")
        time.sleep(0.1)
    try:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_no_server_error_and_every_response_matches_the_schema(api_schema: object) -> None:
    # One Hypothesis run per operation, driven here rather than by schemathesis' pytest plugin,
    # whose lazy fixtures do not work with pytest 9 yet.
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[attr-defined]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def call(case: object) -> None:
            case.call_and_validate(  # type: ignore[attr-defined]
                headers={"X-API-Key": KEY},
                excluded_checks=[positive_data_acceptance],
                additional_checks=[valid_data_is_accepted_unless_the_schema_cannot_say_why],
            )

        try:
            call()
        except Exception as failure:  # collect every operation's failure, then report them all
            failures[operation.label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
