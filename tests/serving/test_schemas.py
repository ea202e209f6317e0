"""Tests of the request bodies the OpenAPI schema promises clients."""

from __future__ import annotations

import pytest

from sentimentops.features.blank import NOT_BLANK_PATTERN
from sentimentops.serving.schemas import request_models


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
