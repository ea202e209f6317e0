"""Tests of the request bodies the OpenAPI schema promises clients."""

from __future__ import annotations

import pytest

from sentimentops.features.blank import NOT_BLANK_PATTERN
from sentimentops.serving.schemas import (
    FEEDBACK_REQUEST_ID_PATTERN,
    BatchPredictionRequest,
    FeedbackRequest,
    PredictionRequest,
)
from tests.serving.conftest import ClientFactory


def test_the_openapi_pattern_of_a_text_is_the_servers_blank_check() -> None:
    single, batch = PredictionRequest, BatchPredictionRequest

    assert single.model_json_schema()["properties"]["text"]["pattern"] == NOT_BLANK_PATTERN
    items = batch.model_json_schema()["properties"]["texts"]["items"]
    assert items["pattern"] == NOT_BLANK_PATTERN


@pytest.mark.parametrize("text", ["\ufeff", "\x1c", "\x85 ", "\u3000"], ids=repr)
def test_a_blank_text_is_refused_by_both_request_bodies(text: str) -> None:
    single, batch = PredictionRequest, BatchPredictionRequest

    with pytest.raises(ValueError, match="only whitespace"):
        single(text=text)
    with pytest.raises(ValueError, match="only whitespace"):
        batch(texts=["A fine film.", text])


def test_the_openapi_pattern_of_a_feedback_id_is_the_one_the_server_checks() -> None:
    schema = FeedbackRequest.model_json_schema()["properties"]["request_id"]
    assert schema["pattern"] == FEEDBACK_REQUEST_ID_PATTERN

    for accepted in ["0f" * 16, f"{'0f' * 16}.63", "a" * 64, f"{'a' * 64}.7"]:
        assert FeedbackRequest(request_id=accepted, label="positive").request_id == accepted
    # ASCII digits only, as an ECMA-262 regex (what clients validate with) reads the pattern.
    for refused in ["abc.\u0663", "abc\n", "a" * 65]:
        with pytest.raises(ValueError, match="request_id"):
            FeedbackRequest(request_id=refused, label="positive")


def test_each_app_publishes_and_enforces_its_own_limits(make_client: ClientFactory) -> None:
    """The request bodies are classes shared by every app; the limits come from each app's
    settings, in its OpenAPI schema and in what it refuses."""
    with (
        make_client(serving__max_text_chars="20", serving__max_batch_size="2") as small,
        make_client(serving__max_text_chars="30", serving__max_batch_size="3") as large,
    ):
        for client, chars, size in ((small, 20, 2), (large, 30, 3)):
            schemas = client.get("/openapi.json").json()["components"]["schemas"]
            texts = schemas["BatchPredictionRequest"]["properties"]["texts"]
            assert schemas["PredictionRequest"]["properties"]["text"]["maxLength"] == chars
            assert (texts["maxItems"], texts["items"]["maxLength"]) == (size, chars)
            text = "A fine film, truly."  # 19 characters
            batch = {"texts": [text] * size}
            assert client.post("/v1/predict/batch", json=batch).status_code == 200
            too_many = {"texts": [text] * (size + 1)}
            assert client.post("/v1/predict/batch", json=too_many).status_code == 422
            too_long = client.post("/v1/predict", json={"text": "x" * (chars + 1)})
            assert too_long.status_code == 422
            message = too_long.json()["error"]["message"]
            assert f"body.text: String should have at most {chars} characters" in message
