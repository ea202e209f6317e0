"""The Lambda handler, called directly (moto cannot run Lambda without Docker) with its model on
a moto S3: the HTTP API's answers for single and batch texts, validation, warm reuse."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sentimentops.cloud import lambda_handler
from sentimentops.cloud.lambda_handler import handler
from sentimentops.config import get_settings
from tests.cloud.metrics import metric_sum
from tests.servers import moto_s3

MODEL_PREFIX = "s3://lambda-models/imdb-sentiment/v1/"


@pytest.fixture
def model_on_s3(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with moto_s3(monkeypatch):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lambda-models")
        for path in model_folder.rglob("*"):
            if path.is_file():
                key = f"imdb-sentiment/v1/{path.relative_to(model_folder)}"
                s3.upload_file(str(path), "lambda-models", key)
        monkeypatch.setenv("SENTIMENTOPS_CLOUD__LAMBDA_MODEL", MODEL_PREFIX)
        get_settings.cache_clear()
        lambda_handler._LOADED.clear()  # a fresh container
        yield


def _event(path: str, body: Any, *, encoded: bool = False) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    if encoded:
        text = base64.b64encode(text.encode()).decode()
    return {
        "rawPath": path,
        "requestContext": {"requestId": "req-1", "http": {"method": "POST"}},
        "body": text,
        "isBase64Encoded": encoded,
    }


def _answer(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, None)
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def test_single_text(model_on_s3: None) -> None:
    status, body = _answer(_event("/v1/predict", {"text": "A wonderful, moving film."}))

    assert status == 200
    assert body["label"] == "positive"
    assert 0.5 < body["score"] <= 1
    assert body["model"] == {"name": "v1", "version": "local"}
    assert body["request_id"] == "req-1"


def test_batch_of_texts_base64_encoded(model_on_s3: None) -> None:
    texts = {"texts": ["Loved it, brilliant.", "Dull, tedious, a waste of time."]}
    status, body = _answer(_event("/prod/v1/predict/batch", texts, encoded=True))

    assert status == 200
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative"]
    assert [p["request_id"] for p in body["predictions"]] == ["req-1.0", "req-1.1"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/predict", "{not json"),
        ("/v1/predict", "[1, 2]"),
        ("/v1/predict", {"text": ""}),
        ("/v1/predict", {"text": "fine", "extra": 1}),
        ("/v1/predict/batch", {"texts": []}),
        ("/v1/predict/batch", {"texts": ["x"] * 65}),
    ],
)
def test_invalid_requests_are_422_like_the_api(model_on_s3: None, path: str, body: Any) -> None:
    status, answer = _answer(_event(path, body))

    assert status == 422
    assert answer["error"]["type"] == "validation_error"
    assert answer["error"]["request_id"] == "req-1"
    assert answer["error"]["details"]


@pytest.mark.parametrize("body", ["not base64 at all!", "eyJ0ZXh0Ijo", "café"])
def test_a_body_that_is_not_base64_is_422_not_500(model_on_s3: None, body: str) -> None:
    """isBase64Encoded true with a body that is not base64 (bad characters, bad padding, not
    ASCII) is the caller's error, answered like any other invalid body."""
    event = _event("/v1/predict", body) | {"isBase64Encoded": True}

    status, answer = _answer(event)

    assert status == 422
    assert answer["error"]["type"] == "validation_error"
    assert answer["error"]["request_id"] == "req-1"
    assert "not valid base64" in answer["error"]["details"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/v1/predict", {"text": "<br /><br />"}, "The text has nothing left"),
        ("/v1/predict/batch", {"texts": ["Loved it.", "&nbsp;"]}, "positions [1] have nothing"),
    ],
)
def test_a_text_with_nothing_left_after_cleaning_is_422_like_the_api(
    model_on_s3: None, path: str, body: Any, says: str
) -> None:
    status, answer = _answer(_event(path, body))

    assert status == 422
    assert answer["error"]["type"] == "validation_error"
    assert says in answer["error"]["message"]


def test_the_model_is_loaded_once_per_warm_container(model_on_s3: None) -> None:
    handler(_event("/v1/predict", {"text": "Good."}))
    first = lambda_handler.loaded_model(get_settings())
    handler(_event("/v1/predict", {"text": "Bad."}))

    assert lambda_handler.loaded_model(get_settings()) is first


def test_no_model_configured_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTIMENTOPS_CLOUD__LAMBDA_MODEL", raising=False)
    get_settings.cache_clear()

    status, body = _answer(_event("/v1/predict", {"text": "Good."}))

    assert status == 500  # the function is misconfigured, not the request
    assert body["error"]["type"] == "internal_error"
    assert "SENTIMENTOPS_CLOUD__LAMBDA_MODEL" in body["error"]["message"]


def test_predictions_are_counted_in_cloudwatch(
    model_on_s3: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_CLOUD__CLOUDWATCH_METRICS", "true")
    get_settings.cache_clear()

    handler(_event("/v1/predict/batch", {"texts": ["Good.", "Bad.", "Fine."]}))

    assert metric_sum("Predictions", component="lambda", model_version="local") == 3
