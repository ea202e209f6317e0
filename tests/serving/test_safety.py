"""Limits, authentication and the error shape: bad requests get a clear 4xx, never a 5xx."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from sentimentops.prediction_log import LogStatus, SpoolStats
from sentimentops.serving.metrics import ApiMetrics
from sentimentops.serving.middleware import RequestGuard
from tests.servers import eventually
from tests.serving.conftest import ClientFactory, logged_request_ids

TEXT = "A wonderful film."


def assert_error(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 201}, "text"),
        ({"text": 42}, "text"),
        ({"texts": ["a"]}, "text"),
        ({"text": TEXT, "extra": 1}, "extra"),
        ([TEXT], "body"),
    ],
)
def test_invalid_bodies_are_422_with_the_field_named(
    make_client: ClientFactory, body: object, where: str
) -> None:
    with make_client(serving__max_text_chars="200") as client:
        error = assert_error(client.post("/v1/predict", json=body), 422, "validation_error")
    assert where in str(error["message"])
    assert error["details"]


@pytest.mark.parametrize(
    "path",
    ["/v1/predict", "/v1/predict/batch", "/v1/feedback", "/v2/models/imdb-logreg/infer"],
)
@pytest.mark.parametrize("body", [b'{"text": "unclosed', b'{"text": bad}', b"[1,"])
def test_a_body_that_is_not_json_is_400_on_v1_and_v2(
    client: TestClient, path: str, body: bytes
) -> None:
    """400 as for an undecodable body; 422 is kept for JSON that does not match the schema."""
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    if path.startswith("/v2/"):
        assert response.status_code == 400, response.text
        message = response.json()["error"]
    else:
        message = assert_error(response, 400, "bad_request")["message"]
    assert "The request body is not valid JSON" in str(message)
    assert "at character" in str(message)


def test_batch_size_limit(make_client: ClientFactory) -> None:
    with make_client(serving__max_batch_size="3") as client:
        assert client.post("/v1/predict/batch", json={"texts": [TEXT] * 3}).status_code == 200
        assert_error(
            client.post("/v1/predict/batch", json={"texts": [TEXT] * 4}), 422, "validation_error"
        )
        assert_error(client.post("/v1/predict/batch", json={"texts": []}), 422, "validation_error")


def test_body_over_the_limit_is_413_declared_or_streamed(make_client: ClientFactory) -> None:
    with make_client(serving__max_body_bytes="2048") as client:
        declared = client.post("/v1/predict", json={"text": "x" * 5000})
        assert_error(declared, 413, "payload_too_large")

        def chunks() -> object:  # no Content-Length: the limit must hold while streaming
            for _ in range(10):
                yield b"x" * 1024

        streamed = client.post(
            "/v1/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(streamed, 413, "payload_too_large")


def test_api_key_guards_everything_but_health(make_client: ClientFactory) -> None:
    with make_client(api_key="s3cret") as client:
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/ready").status_code == 200
        assert client.get("/v2/health/ready").status_code == 200
        for method, path, body in [
            ("POST", "/v1/predict", {"text": TEXT}),
            ("POST", "/v1/predict/batch", {"texts": [TEXT]}),
            ("POST", "/v1/feedback", {"request_id": "x", "label": "positive"}),
            ("GET", "/v1/model", None),
            ("GET", "/metrics", None),
            ("POST", "/admin/reload", None),
        ]:
            response = client.request(method, path, json=body)
            assert_error(response, 401, "unauthorized")
            wrong = client.request(method, path, json=body, headers={"X-API-Key": "s3cret!"})
            assert wrong.status_code == 401
        v2 = client.post(
            "/v2/models/imdb-logreg/infer",
            json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [TEXT]}]},
        )
        assert v2.status_code == 401
        assert v2.json() == {"error": v2.json()["error"]}
        ok = client.post("/v1/predict", json={"text": TEXT}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200


BODY_PATHS = ["/v1/predict", "/v1/predict/batch", "/v1/feedback", "/v2/models/imdb-logreg/infer"]
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"text": "unclosed', JSON),
        (b"", JSON),
        (b'{"unknown": 1}', JSON),
        (b'{"text": "\xff\xfe"}', JSON),
        (gzip.compress(b'{"text": "A wonderful film."}'), JSON | {"content-encoding": "gzip"}),
    ],
    ids=["not-json", "empty", "off-schema", "not-utf8", "gzip"],
)
def test_a_request_without_the_key_is_401_whatever_its_body(
    make_client: ClientFactory, body: bytes, headers: dict[str, str]
) -> None:
    with make_client(api_key="s3cret") as client:
        for path in BODY_PATHS:
            for key in [None, "", "s3cret!"]:
                sent = headers if key is None else headers | {"X-API-Key": key}
                response = client.post(path, content=body, headers=sent)

                assert response.status_code == 401, (path, key, response.text)
                assert response.headers["www-authenticate"] == "ApiKey"
                message = response.json()["error"]
                if not path.startswith("/v2/"):
                    message = assert_error(response, 401, "unauthorized")["message"]
                assert "send it in the X-API-Key header" in str(message)


def message_of(response: httpx.Response, status: int, kind: str) -> str:
    """The error message, in the shape of the path's API version."""
    if response.request.url.path.startswith("/v2/"):
        assert response.status_code == status, response.text
        return str(response.json()["error"])
    return str(assert_error(response, status, kind)["message"])


@pytest.mark.parametrize("path", BODY_PATHS)
def test_an_empty_body_is_400_like_a_body_that_is_not_json(client: TestClient, path: str) -> None:
    for headers in [JSON, {}]:  # with or without a Content-Type
        response = client.post(path, content=b"", headers=headers)

        message = message_of(response, 400, "bad_request")
        assert message == (
            "The request body is empty; send a JSON object (Content-Type: application/json)."
        )


@pytest.mark.parametrize("path", BODY_PATHS)
def test_a_compressed_body_is_415_naming_what_is_accepted(client: TestClient, path: str) -> None:
    body = {"text": TEXT} if path == "/v1/predict" else {"texts": [TEXT]}
    packed = gzip.compress(json.dumps(body).encode())
    for coding in ["gzip", "deflate", "br", "identity, gzip", "GZIP"]:
        headers = JSON | {"content-encoding": coding}

        response = client.post(path, content=packed, headers=headers)

        message = message_of(response, 415, "unsupported_media_type")
        assert f"Content-Encoding '{coding}' is not accepted" in message
        assert "send the JSON body uncompressed" in message
        assert response.headers["accept-encoding"] == "identity"
    # Nothing was scored or logged: the next prediction is the first in the log.
    client.post("/v1/predict", json={"text": TEXT}, headers={"x-request-id": "after"})
    assert logged_request_ids(client) == ["after"]


def test_a_body_declared_identity_is_read_as_sent(client: TestClient) -> None:
    body = json.dumps({"text": TEXT}).encode()
    headers = JSON | {"content-encoding": "identity"}

    assert client.post("/v1/predict", content=body, headers=headers).status_code == 200


DOCS = ("/docs", "/redoc", "/openapi.json")


@pytest.mark.parametrize(
    ("settings", "exposed"),
    [
        ({}, True),
        ({"serving__expose_docs": "false"}, False),
        ({"api_key": "s3cret"}, False),  # a guarded API does not publish its schema by default
        ({"api_key": "s3cret", "serving__expose_docs": "true"}, True),
    ],
    ids=["no-key", "no-key-turned-off", "key", "key-turned-on"],
)
def test_docs_are_exposed_without_a_key_unless_turned_off_and_with_one_only_if_turned_on(
    make_client: ClientFactory, settings: dict[str, str], exposed: bool
) -> None:
    with make_client(**settings) as client:
        for path in DOCS:
            keyless = client.get(path)
            if exposed:
                assert keyless.status_code == 200, path
            else:
                assert_error(keyless, 404, "not_found")
                # Off is off: not a route, even for a caller with the key.
                assert client.get(path, headers={"X-API-Key": "s3cret"}).status_code == 404


@pytest.mark.parametrize(
    "request_id",
    [
        r"\ud800",  # a lone surrogate: SQLite cannot encode it
        r"abc\u0000",  # a NUL: PostgreSQL refuses it
        "two words",
        "../../etc/passwd",
        "x" * 65,  # longer than any id the API hands out
        "abc.3.x!",
    ],
    ids=["lone-surrogate", "nul", "space", "path", "too-long", "odd-suffix"],
)
def test_feedback_for_an_id_the_api_never_hands_out_is_422(
    client: TestClient, request_id: str
) -> None:
    # Sent as raw JSON: an escaped lone surrogate is valid JSON but no valid UTF-8.
    body = f'{{"request_id": "{request_id}", "label": "positive"}}'.encode()
    response = client.post(
        "/v1/feedback", content=body, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 422, "validation_error")
    assert "request_id" in str(error["message"])
    assert error["details"]


def test_feedback_the_database_refuses_is_a_500_not_a_503_to_retry(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        # What psycopg2 raises for a value PostgreSQL cannot store: no outage, retrying is vain.
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")

    client.post("/v1/predict", json={"text": TEXT}, headers={"X-Request-ID": "abc-1"})
    monkeypatch.setattr(client.app.state.api.store, "write_feedback", refuse)  # type: ignore[attr-defined]
    response = client.post("/v1/feedback", json={"request_id": "abc-1", "label": "positive"})
    error = assert_error(response, 500, "internal_error")
    assert "retry" not in str(error["message"])
    assert "NUL" not in response.text


def test_admin_reload_is_off_without_an_api_key(client: TestClient) -> None:
    assert_error(client.post("/admin/reload"), 403, "forbidden")


def test_request_over_the_timeout_is_504(make_client: ClientFactory) -> None:
    with make_client(serving__request_timeout_seconds="0.000001") as client:
        assert_error(client.post("/v1/predict", json={"text": TEXT}), 504, "timeout")
    with make_client(serving__request_timeout_seconds="10") as client:
        assert client.post("/v1/predict", json={"text": TEXT}).status_code == 200


def test_unknown_path_and_method_keep_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


def test_cors_is_off_unless_configured(make_client: ClientFactory) -> None:
    preflight = {
        "Origin": "https://dashboard.example",
        "Access-Control-Request-Method": "POST",
    }
    with make_client() as client:
        response = client.options("/v1/predict", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    with make_client(serving__cors_origins='["https://dashboard.example"]') as client:
        response = client.options("/v1/predict", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://dashboard.example"


LOG_STATUS = LogStatus(
    queue_depth=0,
    spool=SpoolStats(records=0, bytes=0, max_bytes=2**20, oldest=None),
    written=0,
    replayed=0,
    dropped=0,
    rejected=0,
    database_available=True,
)


def test_requests_over_the_concurrency_limit_get_503_and_probes_still_answer() -> None:
    release = asyncio.Event()
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"status": "done"}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    metrics = ApiMetrics(log_status=lambda: LOG_STATUS, served_model=lambda: [])
    guarded = RequestGuard(
        app, metrics=metrics, routes=app.routes, max_body_bytes=1024, max_concurrency=2
    )

    async def scenario() -> tuple[list[int], int, int]:
        transport = httpx.ASGITransport(app=guarded)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            first = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
            while guarded.in_flight < 2:
                await asyncio.sleep(0.01)
            refused = await client.get("/slow")
            probe = await client.get("/health/live")
            release.set()
            done = await asyncio.gather(*first)
            return [r.status_code for r in done], refused.status_code, probe.status_code

    statuses, refused, probe = asyncio.run(scenario())
    assert statuses == [200, 200]
    assert refused == 503
    assert probe == 200
    # Refused before routing, and still counted under the route it was sent to.
    exported = generate_latest(metrics.registry).decode()
    assert 'sentimentops_errors_total{endpoint="/slow",status="503"} 1.0' in exported


def test_feedback_waiting_for_unknown_ids_leaves_predictions_their_slots(
    make_client: ClientFactory,
) -> None:
    """An unknown id waits a log flush (+0.25 s) for another worker's prediction: a flood of
    them must not take the slots predictions need."""
    with make_client(serving__max_concurrency="2", prediction_log__flush_seconds="2") as client:
        client.post("/v1/predict", json={"text": TEXT}, headers={"X-Request-ID": "known"})
        flood: list[httpx.Response] = []

        def unknown_feedback(number: int) -> None:
            body = {"request_id": f"unknown-{number}", "label": "positive"}
            # Retried while refused, as a client heeding Retry-After: a probe may hold a slot.
            while (answer := client.post("/v1/feedback", json=body)).status_code == 503:
                time.sleep(0.01)
            flood.append(answer)

        def refused_feedback() -> httpx.Response | None:
            """Feedback for a known id (answered at once), if refused: the flood holds the slots."""
            answer = client.post("/v1/feedback", json={"request_id": "known", "label": "positive"})
            return answer if answer.status_code == 503 else None

        senders = [threading.Thread(target=unknown_feedback, args=(n,)) for n in range(2)]
        for sender in senders:
            sender.start()
        refused = eventually(refused_feedback, what="the unknown ids' feedback to fill the slots")
        prediction = client.post("/v1/predict", json={"text": TEXT})
        still_waiting = sum(sender.is_alive() for sender in senders)
        for sender in senders:
            sender.join()

    assert still_waiting == 2
    assert prediction.status_code == 200, prediction.text
    assert "2 feedback requests in flight" in str(
        assert_error(refused, 503, "overloaded")["message"]
    )
    assert [answer.status_code for answer in flood] == [422, 422]
    assert {answer.json()["error"]["type"] for answer in flood} == {"unknown_request_id"}


# Texts that clean down to nothing: markup, entities, emoji, invisible characters (batch
# prediction rejects the same rows as "text empty after cleaning").
NOTHING_AFTER_CLEANING = ["<br /><br />", "&nbsp;", "\u200b", "<p></p>&amp;", "\U0001f600\u2014"]


@pytest.mark.parametrize("text", NOTHING_AFTER_CLEANING)
def test_a_text_with_nothing_left_after_cleaning_is_refused_not_guessed(
    client: TestClient, text: str
) -> None:
    error = assert_error(client.post("/v1/predict", json={"text": text}), 422, "validation_error")

    assert "nothing left to score after cleaning (only markup, HTML entities, emoji" in str(
        error["message"]
    )


def test_a_batch_names_the_texts_with_nothing_left_and_nothing_is_logged(
    client: TestClient,
) -> None:
    texts = [TEXT, "<br /><br />", TEXT, "&nbsp;"]

    error = assert_error(
        client.post("/v1/predict/batch", json={"texts": texts}), 422, "validation_error"
    )

    assert "positions 1, 3 have nothing left to score" in str(error["message"])
    accepted = client.post("/v1/predict", json={"text": TEXT}, headers={"x-request-id": "ok-1"})
    assert accepted.status_code == 200
    # Written in the order submitted: a logged refusal would be there before ok-1.
    assert logged_request_ids(client) == ["ok-1"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"text": "Café"}'.encode("latin-1"), "The request body is not UTF-8 (invalid"),
        (b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deeply"),
    ],
    ids=["latin-1", "deep"],
)
def test_a_body_that_cannot_be_parsed_says_why(
    client: TestClient, body: bytes, expected: str
) -> None:
    """Both were answered "There was an error parsing the body", whatever the fault."""
    response = client.post(
        "/v1/predict", content=body, headers={"content-type": "application/json; charset=latin-1"}
    )

    assert expected in str(assert_error(response, 400, "bad_request")["message"])
