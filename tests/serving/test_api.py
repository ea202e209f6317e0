"""The /v1 API and the operations endpoints, on a real model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import ClientFactory

POSITIVE = "A wonderful, moving film with superb acting. I loved every minute of it."
NEGATIVE = "Dull, tedious and badly acted. The worst film I have seen this year, awful."


def test_predict_labels_one_review_with_its_score_and_model(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"text": POSITIVE})

    assert response.status_code == 200
    body = response.json()
    assert body["label"] == "positive"
    assert 0.5 < body["score"] <= 1.0
    assert body["model"] == {"name": "imdb-logreg", "version": "local"}
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["explanation"] is None
    negative = client.post("/v1/predict", json={"text": NEGATIVE}).json()
    assert negative["label"] == "negative"
    assert negative["score"] < 0.5


def test_client_request_id_is_kept(client: TestClient) -> None:
    response = client.post(
        "/v1/predict", json={"text": POSITIVE}, headers={"X-Request-ID": "abc-1"}
    )

    assert response.json()["request_id"] == "abc-1"
    assert response.headers["x-request-id"] == "abc-1"


def test_explain_names_the_ngrams_that_moved_the_score(client: TestClient) -> None:
    body = client.post("/v1/predict?explain=true", json={"text": NEGATIVE}).json()

    explanation = body["explanation"]
    assert 1 <= len(explanation) <= 5
    ngrams = [item["ngram"] for item in explanation]
    assert any(word in " ".join(ngrams) for word in ("worst", "awful", "dull", "tedious"))
    # Largest contribution first; for a negative review the top one pushes towards negative.
    weights = [abs(item["weight"]) for item in explanation]
    assert weights == sorted(weights, reverse=True)
    assert explanation[0]["weight"] < 0


def test_a_batch_explains_each_text_as_a_single_prediction_does(client: TestClient) -> None:
    texts = [NEGATIVE, POSITIVE]

    batch = client.post("/v1/predict/batch?explain=true", json={"texts": texts}).json()
    plain = client.post("/v1/predict/batch", json={"texts": texts}).json()

    singles = [
        client.post("/v1/predict?explain=true", json={"text": text}).json()["explanation"]
        for text in texts
    ]
    assert [p["explanation"] for p in batch["predictions"]] == singles
    assert all(explanation for explanation in singles)
    assert [p["explanation"] for p in plain["predictions"]] == [None, None]


def test_batch_keeps_order_and_matches_single_predictions(client: TestClient) -> None:
    texts = [POSITIVE, NEGATIVE, POSITIVE + " Again.", "It was fine, I guess, nothing special."]

    response = client.post("/v1/predict/batch", json={"texts": texts})

    assert response.status_code == 200
    body = response.json()
    request_id = body["request_id"]
    assert [p["request_id"] for p in body["predictions"]] == [f"{request_id}.{i}" for i in range(4)]
    singles = [client.post("/v1/predict", json={"text": t}).json() for t in texts]
    assert [p["label"] for p in body["predictions"]] == [s["label"] for s in singles]
    for batched, single in zip(body["predictions"], singles, strict=True):
        assert abs(batched["score"] - single["score"]) < 1e-9


def test_model_endpoint_describes_the_served_model(client: TestClient) -> None:
    body = client.get("/v1/model").json()

    assert body["name"] == "imdb-logreg"
    assert body["version"] == "local"
    assert body["uri"].endswith("imdb-logreg")
    assert set(body) >= {"alias", "run_id", "metrics", "data_digest", "loaded_at"}


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/health/live").json()["status"] == "ok"
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["model"]["name"] == "imdb-logreg"


def test_probes_answer_head_as_get_without_a_body(make_client: ClientFactory) -> None:
    probes = ["/health/live", "/health/ready", "/health/log", "/v2/health/live", "/v2/health/ready"]
    with make_client(api_key="s3cret") as client:  # probes never need the key
        for path in probes:
            head, get = client.head(path), client.get(path)
            assert (head.status_code, get.status_code) == (200, 200), path
            assert head.content == b""
            assert head.headers["content-type"] == get.headers["content-type"]
    with make_client(ready=False, serving__model_uri="/nonexistent/model") as client:
        assert client.head("/health/ready").status_code == 503
        assert client.head("/v2/health/ready").status_code == 503


def test_not_ready_until_a_model_loads(make_client: ClientFactory, tmp_path: object) -> None:
    with make_client(ready=False, serving__model_uri="/nonexistent/model") as client:
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "loading"
        response = client.post("/v1/predict", json={"text": POSITIVE})
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "model_not_ready"
        assert client.get("/v2/health/ready").status_code == 503


def test_metrics_count_requests_predictions_and_the_model(client: TestClient) -> None:
    client.post("/v1/predict", json={"text": POSITIVE})
    client.post("/v1/predict", json={"text": NEGATIVE})
    client.post("/v1/predict", json={"text": ""})

    text = client.get("/metrics").text

    assert (
        'sentimentops_requests_total{endpoint="/v1/predict",method="POST",status="200"} 2.0' in text
    )
    assert 'sentimentops_errors_total{endpoint="/v1/predict",status="422"} 1.0' in text
    assert 'sentimentops_predictions_total{label="positive",role="champion"} 1.0' in text
    assert 'sentimentops_predictions_total{label="negative",role="champion"} 1.0' in text
    assert 'sentimentops_prediction_score_count{role="champion"} 2.0' in text
    assert 'sentimentops_prediction_latency_seconds_count{role="champion"} 2.0' in text
    assert 'sentimentops_request_latency_seconds_count{endpoint="/v1/predict"} 3.0' in text
    assert 'sentimentops_model_info{name="imdb-logreg",role="champion",version="local"} 1.0' in text
    assert 'sentimentops_shadow_requests_total{outcome="dropped"} 0.0' in text
    assert "sentimentops_prediction_log_queue_depth" in text
    assert "sentimentops_prediction_log_dropped_total 0.0" in text
    assert "sentimentops_prediction_log_spool_records 0.0" in text
    assert "sentimentops_prediction_log_spool_max_bytes 4.294967296e+09" in text
    assert "sentimentops_prediction_log_spool_oldest_age_seconds 0.0" in text
    assert "sentimentops_prediction_log_replayed_total 0.0" in text


def test_requests_answered_before_routing_are_counted_under_their_route(
    make_client: ClientFactory,
) -> None:
    too_long = {"text": "x" * 5000}
    tensor = {"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", "data": ["x" * 5000]}]}

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as it streams, after routing
        yield json.dumps(too_long).encode()

    with make_client(serving__max_body_bytes="2048") as client:
        assert client.post("/v1/predict", json=too_long).status_code == 413
        streamed = client.post(
            "/v1/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.post("/v2/models/imdb-logreg/infer", json=tensor).status_code == 413
        assert client.get("/docs").status_code == 200
        text = client.get("/metrics").text

    assert 'sentimentops_errors_total{endpoint="/v1/predict",status="413"} 2.0' in text
    assert 'sentimentops_errors_total{endpoint="/v2/models/{name}/infer",status="413"} 1.0' in text
    assert 'sentimentops_requests_total{endpoint="/docs",method="GET",status="200"} 1.0' in text
    assert "unmatched" not in text


def test_readiness_503s_while_the_model_loads_are_not_errors(make_client: ClientFactory) -> None:
    with make_client(ready=False, serving__model_uri="/nonexistent/model") as client:
        assert client.get("/health/ready").status_code == 503
        assert client.get("/v2/health/ready").status_code == 503
        assert client.post("/v1/predict", json={"text": POSITIVE}).status_code == 503
        text = client.get("/metrics").text

    for probe in ("/health/ready", "/v2/health/ready"):
        assert (
            f'sentimentops_requests_total{{endpoint="{probe}",method="GET",status="503"}}' in text
        )
        assert f'sentimentops_errors_total{{endpoint="{probe}"' not in text
    # A request the API cannot serve yet is an error all the same.
    assert 'sentimentops_errors_total{endpoint="/v1/predict",status="503"} 1.0' in text


def test_serve_refuses_to_start_without_a_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sentimentops.cli.main import app

    runner = CliRunner()
    missing_folder = runner.invoke(app, ["serve", "--model", str(tmp_path / "nothing")])
    assert missing_folder.exit_code == 2
    assert "neither a models:/ URI nor a folder" in missing_folder.output

    no_champion = runner.invoke(app, ["serve"])  # an empty registry: nothing is champion
    assert no_champion.exit_code == 2
    assert "sentimentops train" in no_champion.output


def test_a_batch_of_one_still_gets_an_item_id(client: TestClient) -> None:
    body = client.post("/v1/predict/batch", json={"texts": [POSITIVE]}).json()
    assert body["predictions"][0]["request_id"] == f"{body['request_id']}.0"


def test_reload_outcomes_and_recovery(model_folder: Path, tmp_path: Path) -> None:
    import shutil

    from sentimentops.serving.model import ModelSlot

    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder)
    slot = ModelSlot(str(folder))
    assert slot.reload().kind == "swapped"
    assert slot.reload().kind == "unchanged"

    folder.rename(tmp_path / "gone")
    failed = slot.reload(force=True)
    assert failed.kind == "failed"
    assert "neither a models:/ URI nor a folder" in (failed.error or "")
    assert slot.current is not None  # the loaded model goes on serving

    (tmp_path / "gone").rename(folder)
    assert slot.reload().kind == "unchanged"
    assert slot.last_error is None  # recovered: no stale failure reported


def test_a_swapped_in_model_is_frozen_out_of_the_collector_s_walks(model_folder: Path) -> None:
    import gc

    from sentimentops.serving.model import ModelSlot

    gc.unfreeze()
    slot = ModelSlot(str(model_folder))
    try:
        assert slot.reload().kind == "swapped"
        pipeline = slot.current.pipeline if slot.current else None
        assert gc.get_freeze_count() > 0
        # A full collection walks only what is not frozen: the model is not among it.
        assert not any(tracked is pipeline for tracked in gc.get_objects())
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("headers", "sent"),
    [
        ({}, "no Content-Type"),
        ({"content-type": "application/x-www-form-urlencoded"}, "Content-Type application/x-www-"),
    ],
    ids=["no content type", "curl -d's form"],
)
def test_json_sent_without_a_json_content_type_is_told_to_say_so(
    client: TestClient, headers: dict[str, str], sent: str
) -> None:
    """``curl -d '{"text": "great"}'`` got "Input should be a valid dictionary", no hint."""
    answer = client.post("/v1/predict", content=b'{"text": "great"}', headers=headers)

    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert f"The body came with {sent}" in message
    assert message.endswith("send it with Content-Type: application/json")


def test_a_json_body_that_does_not_fit_gets_no_content_type_hint(client: TestClient) -> None:
    answer = client.post("/v1/predict", json={"texts": "great"})

    assert answer.status_code == 422, answer.text
    assert "Content-Type" not in answer.json()["error"]["message"]
