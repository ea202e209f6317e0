"""Tests of the request bodies the OpenAPI schema promises clients."""

from __future__ import annotations

import pytest

from sentimentops.features.blank import NOT_BLANK_PATTERN
from sentimentops.serving.schemas import (
    FEEDBACK_REQUEST_ID_PATTERN,
    FeedbackRequest,
    request_models,
)


def test_the_openapi_pattern_of_a_text_is_the_servers_blank_check() -> None:
    single, batch = request_models(100, 4)

    assert single.model_json_schema()["properties"]["text"]["pattern"] == NOT_BLANK_PATTERN
    items = batch.model_json_schema()["properties"]["texts"]["items"]
    assert items["pattern"] == NOT_BLANK_PATTERN


@pytest.mark.parametrize("text", ["\ufeff", "\x1c", "\x85 ", "\u3000"], ids=repr)
def test_a_blank_text_is_refused_by_both_request_bodies(text: str) -> None:
    single, batch = request_models(100, 4)

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
