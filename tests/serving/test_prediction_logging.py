"""Every prediction the API answers lands in the prediction log, off the request path; a log
database that goes down costs log rows, counted, never answers."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi.testclient import TestClient

from sentimentops.prediction_log import PredictionLogStore
from tests.prediction_log.tcp_proxy import TcpProxy
from tests.servers import eventually
from tests.serving.conftest import ClientFactory

TEXTS = [
    "A wonderful, moving film with superb acting.",
    "Dull, tedious and badly acted.",
    "Not bad at all, I enjoyed it.",
]


def store_of(client: TestClient) -> PredictionLogStore:
    return client.app.state.api.store  # type: ignore[attr-defined,no-any-return]


def test_predictions_and_feedback_are_logged_in_sqlite(make_client: ClientFactory) -> None:
    with make_client() as client:
        single = client.post("/v1/predict", json={"text": TEXTS[0]}).json()
        batch = client.post("/v1/predict/batch", json={"texts": TEXTS[1:]}).json()
        feedback = client.post(
            "/v1/feedback",
            json={"request_id": batch["predictions"][0]["request_id"], "label": "positive"},
        )
        assert feedback.status_code == 202
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 3)
        window = store.read_window()

    assert window["request_id"].tolist() == [
        single["request_id"],
        *(p["request_id"] for p in batch["predictions"]),
    ]
    assert window["text"].tolist() == TEXTS
    assert window["text_sha256"].tolist() == [hashlib.sha256(t.encode()).hexdigest() for t in TEXTS]
    assert window["text_length"].tolist() == [len(t) for t in TEXTS]
    assert window["label"].tolist() == [
        single["label"],
        *(p["label"] for p in batch["predictions"]),
    ]
    assert window["model_version"].unique().tolist() == ["local"]
    assert window["endpoint"].tolist() == ["/v1/predict", "/v1/predict/batch", "/v1/predict/batch"]
    assert (window["latency_ms"] > 0).all()
    assert window["feedback_label"].tolist() == [None, "positive", None]


def test_feedback_names_a_batch_item_by_its_item_id(make_client: ClientFactory) -> None:
    with make_client() as client:
        batch = client.post(
            "/v1/predict/batch", json={"texts": TEXTS + TEXTS[:1]}, headers={"X-Request-ID": "b-1"}
        ).json()
        assert batch["predictions"][3]["request_id"] == "b-1.3"
        feedback = client.post("/v1/feedback", json={"request_id": "b-1.3", "label": "negative"})
        assert feedback.status_code == 202
        assert feedback.json() == {"status": "accepted", "request_id": "b-1.3"}
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 4)
        window = store.read_window()
    assert window["feedback_label"].tolist() == [None, None, None, "negative"]


def test_feedback_while_the_log_database_is_unusable_is_503(make_client: ClientFactory) -> None:
    with make_client() as client:
        store = store_of(client)
        with store.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE feedback"))  # as if never migrated
        response = client.post("/v1/feedback", json={"request_id": "x", "label": "positive"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "unavailable"
    assert "retry later" in error["message"]


def test_text_storage_can_be_turned_off(make_client: ClientFactory) -> None:
    with make_client(prediction_log__store_text="false") as client:
        client.post("/v1/predict", json={"text": TEXTS[0]})
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 1)
        window = store.read_window()
    assert window["text"].tolist() == [None]
    assert window["text_length"].tolist() == [len(TEXTS[0])]


def test_predictions_are_logged_in_postgresql(
    make_client: ClientFactory, postgres_url: str
) -> None:
    with make_client(prediction_log__url=postgres_url) as client:
        for text in TEXTS * 10:
            assert client.post("/v1/predict", json={"text": text}).status_code == 200
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 30)
    reader = PredictionLogStore(postgres_url)
    try:
        assert reader.read_window()["text"].tolist() == TEXTS * 10
    finally:
        reader.dispose()


def test_log_database_outage_costs_log_rows_not_answers(
    make_client: ClientFactory, postgres_url: str
) -> None:
    target = urlsplit(postgres_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        through_proxy = postgres_url.replace(f":{target.port}/", f":{proxy.port}/")
        # A small queue and batch: whatever the timing, the writer cannot absorb the outage.
        with make_client(
            prediction_log__url=through_proxy,
            prediction_log__queue_size="5",
            prediction_log__batch_size="2",
        ) as client:
            store = store_of(client)
            client.post("/v1/predict", json={"text": TEXTS[0]})
            eventually(lambda: store.count_predictions() == 1)

            proxy.stop()  # the database becomes unreachable
            answers = [client.post("/v1/predict", json={"text": t}) for t in TEXTS * 20]
            assert {response.status_code for response in answers} == {200}
            writer = client.app.state.api.writer  # type: ignore[attr-defined]
            eventually(lambda: writer.dropped > 0)
            metrics = client.get("/metrics").text
            assert f"sentimentops_prediction_log_dropped_total {float(writer.dropped)}" in metrics
            feedback = client.post("/v1/feedback", json={"request_id": "x", "label": "positive"})
            assert feedback.status_code == 503
            assert feedback.json()["error"]["type"] == "unavailable"

            proxy.start()  # back: the retained batch and the queue are written
            eventually(lambda: writer.queue_depth == 0 and writer.store_available)
            eventually(lambda: store.count_predictions() == 1 + 60 - writer.dropped)
