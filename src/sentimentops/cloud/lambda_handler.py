"""The Lambda handler: API-Gateway events in, ``/v1/predict`` and ``/v1/predict/batch`` answers
out; the model is loaded at a container's first call and reused while it stays warm."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sentimentops.config import Settings, get_settings
from sentimentops.errors import (
    BadInputError,
    ConfigError,
    ModelIntegrityError,
    ModelNotFoundError,
    SentimentOpsError,
    UnsafeLocationError,
)
from sentimentops.models.sentiment import labels_of
from sentimentops.storage import Location, contained_path
from sentimentops.tracking.loading import LoadedModel, load_version

__all__ = ["handler", "loaded_model"]

log = logging.getLogger(__name__)

# Warm containers keep their model: one per configured location.
_LOADED: dict[str, LoadedModel] = {}


def loaded_model(settings: Settings) -> LoadedModel:
    """The model of ``cloud.lambda_model`` (an ``s3://`` prefix, folder or ``models:/`` URI),
    loaded once; ConfigError when it is not set, ModelNotFoundError when nothing is there."""
    location = settings.cloud.lambda_model
    if location is None:
        raise ConfigError(
            "No model for the Lambda: set SENTIMENTOPS_CLOUD__LAMBDA_MODEL to the s3:// prefix "
            "of an MLflow model folder."
        )
    if location not in _LOADED:
        started = time.perf_counter()
        try:
            parsed = Location(location)
        except UnsafeLocationError as error:  # the function's configuration, not the request
            raise ConfigError(f"cloud.lambda_model is refused: {error}") from None
        uri = str(_download_prefix(parsed)) if parsed.remote else location
        _LOADED.clear()  # one model per container: they are large
        _LOADED[location] = load_version(uri)
        log.info("cold start: loaded %s in %.1f s", location, time.perf_counter() - started)
    return _LOADED[location]


def _download_prefix(location: Location) -> Path:
    """Copy every object under ``s3://bucket/prefix/`` to a folder under ``/tmp`` (Lambda's only
    writable place) named as the model; with boto3, which the Lambda runtime has, not s3fs."""
    import boto3

    uri = str(location)
    digest = hashlib.sha256(uri.encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"sentimentops-{digest}" / location.name
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/") + "/"
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    # A key ending in "/" is a folder marker (the S3 console makes them), not a file.
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    files = [key for key in keys if not key.endswith("/")]
    if not files:
        raise ModelNotFoundError(f"No model files under {uri}.")
    for key in files:
        try:
            local = contained_path(target, key.removeprefix(prefix))
        except UnsafeLocationError as error:  # prefix/../../x: not what was saved there
            raise ModelIntegrityError(f"The model under {uri} is refused: {error}") from None
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(local))
    return target


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Answer one API-Gateway proxy event (REST v1 or HTTP API v2 payload)."""
    from sentimentops.serving.schemas import BatchPredictionRequest, PredictionRequest, check_limits

    request_id = str((event.get("requestContext") or {}).get("requestId") or uuid.uuid4().hex)
    settings = get_settings()
    try:
        body = _json_body(event)
        path = str(event.get("rawPath") or event.get("path") or "")
        batch = path.rstrip("/").endswith("/batch") or "texts" in body
        if batch:
            texts = BatchPredictionRequest.model_validate(body).texts
        else:
            texts = [PredictionRequest.model_validate(body).text]
        check_limits(texts, settings.serving, batch=batch)
        model = loaded_model(settings)
        started = time.perf_counter()
        raw_scores = model.score(texts)
        latency_ms = (time.perf_counter() - started) * 1000
        if unscorable := [i for i, score in enumerate(raw_scores) if math.isnan(score)]:
            raise BadInputError(
                f"The text{f's at positions {unscorable}' if batch else ''} "
                f"{'have' if batch else 'has'} nothing left to score after cleaning (only "
                "markup, HTML entities, emoji and other symbols, or invisible characters); send "
                "the review's words."
            )
        scores = [float(score) for score in raw_scores]
    except ValidationError as error:
        details = [
            {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]}
            for problem in error.errors()
        ]
        return _error(422, "validation_error", "The request body is invalid.", request_id, details)
    except ConfigError as error:  # the function's configuration, not the caller's request
        log.error("request %s: %s", request_id, error)
        return _error(500, None, str(error), request_id)
    except SentimentOpsError as error:
        return _error(error.http_status, None, str(error), request_id)
    except Exception:
        log.exception("request %s failed", request_id)
        return _error(500, "internal_error", "Internal error; see the logs.", request_id)

    identity = {"name": model.name, "version": model.version}
    predictions = [
        {
            "label": label,
            "score": score,
            "model": identity,
            "request_id": f"{request_id}.{index}" if batch else request_id,
        }
        for index, (label, score) in enumerate(zip(labels_of(scores), scores, strict=True))
    ]
    if settings.cloud.cloudwatch_metrics:
        from sentimentops.cloud.cloudwatch import put_metrics

        put_metrics(
            {"Predictions": (len(texts), "Count"), "LatencyMs": (latency_ms, "Milliseconds")},
            component="lambda",
            model_version=model.version,
            namespace=settings.cloud.cloudwatch_namespace,
        )
    payload = (
        {"predictions": predictions, "model": identity, "request_id": request_id}
        if batch
        else predictions[0]
    )
    return _response(200, payload, request_id)


def _json_body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            # Strict: without validate, stray characters are dropped and a damaged body could
            # decode into other bytes; with it, a body that is not base64 is the caller's error.
            raw = base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
        except ValueError as error:  # binascii.Error, or characters outside ASCII
            raise _invalid(
                "body",
                f"isBase64Encoded is true but the body is not valid base64 ({error}); send "
                "the body base64-encoded, or set isBase64Encoded to false for plain JSON",
                raw,
            ) from None
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise _invalid("body", f"not JSON ({error.msg})", raw) from None
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object", raw)
    return body


def _invalid(field: str, message: str, value: Any) -> ValidationError:
    return ValidationError.from_exception_data(
        "request",
        [{"type": "value_error", "loc": (field,), "input": value, "ctx": {"error": message}}],
    )


def _response(status: int, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-request-id": request_id},
        "body": json.dumps(payload),
    }


def _error(
    status: int,
    kind: str | None,
    message: str,
    request_id: str,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    from sentimentops.serving.errors import error_body

    body = error_body(status, message, request_id=request_id, type=kind, details=details)
    return _response(status, {"error": body}, request_id)
