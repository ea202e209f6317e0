"""Every prediction the API answers lands in the prediction log, off the request path; a log
database that goes down costs neither answers nor log rows: they wait in the spool."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sentimentops.prediction_log import PredictionLogStore
from tests.prediction_log.sample_records import sample_records
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


@contextmanager
def predictions_locked(postgres_url: str) -> Iterator[sa.Connection]:
    """The predictions table locked until the block ends: inserts wait (reads do not), so the
    log writer holds the records it took off its queue."""
    blocker = sa.create_engine(postgres_url)
    try:
        with blocker.begin() as lock:
            lock.execute(sa.text("LOCK TABLE predictions IN EXCLUSIVE MODE"))
            yield lock
    finally:
        blocker.dispose()


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
        client.post("/v1/predict", json={"text": TEXTS[0]}, headers={"X-Request-ID": "x"})
        store = store_of(client)
        with store.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE feedback"))  # as if never migrated
        response = client.post("/v1/feedback", json={"request_id": "x", "label": "positive"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "unavailable"
    assert "retry later" in error["message"]


def test_a_log_database_away_at_start_up_is_unavailable_in_health_before_any_prediction(
    make_client: ClientFactory, postgres_url: str
) -> None:
    """/health/log answered 200 "ok", database_available true, until the first write failed."""
    missing = postgres_url.rsplit("/", 1)[0] + "/sentimentops_no_such_database"
    with make_client(prediction_log__url=missing) as client:
        health = client.get("/health/log")

    assert health.status_code == 503, health.text
    assert (health.json()["status"], health.json()["database_available"]) == (
        "unavailable",
        False,
    )


@pytest.mark.parametrize(
    "request_id", ["nope", "0" * 32, "b-1.3", "b-1"], ids=["word", "zeros", "item", "batch"]
)
def test_feedback_for_an_id_no_prediction_was_answered_under_is_422(
    make_client: ClientFactory, request_id: str
) -> None:
    with make_client() as client:
        # A batch of 3 answers b-1.0 to b-1.2: neither b-1.3 nor the batch's own id is a prediction.
        client.post("/v1/predict/batch", json={"texts": TEXTS}, headers={"X-Request-ID": "b-1"})
        response = client.post("/v1/feedback", json={"request_id": request_id, "label": "positive"})
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 3)
        window = store.read_window()

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "unknown_request_id"
    assert f"No prediction was answered under request_id {request_id!r}" in error["message"]
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == 0
    assert window["feedback_label"].isna().all()


def test_feedback_right_after_its_prediction_is_accepted_before_the_record_is_written(
    make_client: ClientFactory, postgres_url: str
) -> None:
    with make_client(prediction_log__url=postgres_url) as client:
        store = store_of(client)
        with predictions_locked(postgres_url):  # the writer holds the record
            answer = client.post("/v1/predict", json={"text": TEXTS[0]}).json()
            feedback = client.post(
                "/v1/feedback", json={"request_id": answer["request_id"], "label": "positive"}
            )
            assert not store.has_prediction(answer["request_id"])  # still not in the log
        assert feedback.status_code == 202, feedback.text
        eventually(lambda: store.count_predictions() == 1)
        # Once written, the label joins its prediction.
        assert store.read_window()["feedback_label"].tolist() == ["positive"]


def test_feedback_for_a_prediction_another_process_logged_is_accepted(
    make_client: ClientFactory,
) -> None:
    with make_client() as client:
        store = store_of(client)
        # Answered by another worker, or by this API before a restart: only the log knows it.
        store.write_predictions(sample_records(1))
        feedback = client.post(
            "/v1/feedback", json={"request_id": "request-0", "label": "negative"}
        )
        assert feedback.status_code == 202, feedback.text
        assert store.read_window()["feedback_label"].tolist() == ["negative"]


def test_feedback_finds_a_prediction_logged_within_a_flush_interval_of_its_arrival(
    make_client: ClientFactory,
) -> None:
    """Another worker's prediction, answered a moment ago, that its writer has not written yet."""
    with make_client(prediction_log__flush_seconds="1.5") as client:
        store = store_of(client)
        other_worker = threading.Timer(0.5, store.write_predictions, [sample_records(1)])
        other_worker.start()
        try:
            feedback = client.post(
                "/v1/feedback", json={"request_id": "request-0", "label": "positive"}
            )
        finally:
            other_worker.join()
        assert feedback.status_code == 202, feedback.text


def test_a_lone_surrogate_is_scored_and_logged_as_u_fffd_on_v1_and_v2_alike(
    make_client: ClientFactory,
) -> None:
    """JSON's "\\ud800" is valid JSON but no Unicode character (UTF-8 and the log cannot hold
    it): both versions replace it on arrival, so the text scored is the text logged."""
    sent = TEXTS[0] + " \ud800"
    replaced = TEXTS[0] + " \ufffd"
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": [sent]}
    requests = {
        "/v1/predict": {"text": sent},
        "/v1/predict/batch": {"texts": [sent]},
        "/v2/models/imdb-logreg/infer": {"inputs": [tensor]},
    }
    with make_client() as client:
        control = client.post("/v1/predict", json={"text": replaced}, headers={"X-Request-ID": "c"})
        answers = [
            # json.dumps writes the surrogate as the escape "\\ud800", as a client's JSON would.
            client.post(
                path,
                content=json.dumps(body),
                headers={"content-type": "application/json", "X-Request-ID": f"r-{number}"},
            )
            for number, (path, body) in enumerate(requests.items())
        ]
        assert [answer.status_code for answer in answers] == [200, 200, 200], answers[0].text
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 4)
        window = store.read_window()

    score = control.json()["score"]
    v1, batch, v2 = (answer.json() for answer in answers)
    scores = [v1["score"], batch["predictions"][0]["score"], v2["outputs"][1]["data"][0]]
    assert scores == [score] * 3
    assert window["request_id"].tolist() == ["c", "r-0", "r-1.0", "r-2.0"]
    assert window["text"].tolist() == [replaced] * 4
    assert window["text_sha256"].tolist() == [hashlib.sha256(replaced.encode()).hexdigest()] * 4
    assert window["text_length"].tolist() == [len(sent)] * 4


def test_health_log_counts_the_batch_being_written_in_its_queue_depth(
    make_client: ClientFactory, postgres_url: str
) -> None:
    waiting_insert = sa.text(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'predictions'::regclass"
    )
    with make_client(prediction_log__url=postgres_url) as client:
        store = store_of(client)
        with predictions_locked(postgres_url) as lock:  # the record is out of the queue, held
            assert client.post("/v1/predict", json={"text": TEXTS[0]}).status_code == 200
            eventually(lambda: lock.execute(waiting_insert).scalar_one() == 1)
            during = client.get("/health/log")
            metrics = client.get("/metrics").text
        eventually(lambda: store.count_predictions() == 1)

        # The row commits a moment before the writer books it: poll until the books settle.
        def books() -> tuple[int, int]:
            health = client.get("/health/log").json()
            return health["queue_depth"], health["written"]

        eventually(lambda: books() == (0, 1), what="the written row booked, none in memory")
        after = books()

    assert during.status_code == 200, during.text
    assert (during.json()["status"], during.json()["queue_depth"]) == ("ok", 1)
    assert "sentimentops_prediction_log_queue_depth 1.0" in metrics
    assert after == (0, 1)


def test_text_storage_can_be_turned_off(make_client: ClientFactory) -> None:
    with make_client(prediction_log__store_text="false") as client:
        client.post("/v1/predict", json={"text": TEXTS[0]})
        store = store_of(client)
        eventually(lambda: store.count_predictions() == 1)
        window = store.read_window()
    assert window["text"].tolist() == [None]
    assert window["text_length"].tolist() == [len(TEXTS[0])]


def test_shutdown_writes_what_waits_for_a_slow_flush(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with make_client(prediction_log__url=url, prediction_log__flush_seconds="60") as client:
        for text in TEXTS:
            assert client.post("/v1/predict", json={"text": text}).status_code == 200
        started = time.monotonic()
    stopping_took = time.monotonic() - started

    reader = PredictionLogStore(url)
    try:
        assert reader.count_predictions() == len(TEXTS)
    finally:
        reader.dispose()
    assert stopping_took < 5.0


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


def test_log_database_outage_costs_neither_answers_nor_log_rows(
    make_client: ClientFactory, postgres_url: str
) -> None:
    target = urlsplit(postgres_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        through_proxy = postgres_url.replace(f":{target.port}/", f":{proxy.port}/")
        # A queue and batch smaller than the outage: before the spool, records were dropped.
        with make_client(
            prediction_log__url=through_proxy,
            prediction_log__queue_size="5",
            prediction_log__batch_size="2",
        ) as client:
            store = store_of(client)
            first = client.post("/v1/predict", json={"text": TEXTS[0]})
            eventually(lambda: store.count_predictions() == 1)
            assert client.get("/health/log").json()["status"] == "ok"

            proxy.stop()  # the database becomes unreachable
            answers = [client.post("/v1/predict", json={"text": t}) for t in TEXTS * 20]
            assert {response.status_code for response in answers} == {200}
            writer = client.app.state.api.writer  # type: ignore[attr-defined]
            eventually(lambda: writer.status().spool.records == 60)
            metrics = client.get("/metrics").text
            log_health = client.get("/health/log")
            ready = client.get("/health/ready")
            feedback = client.post("/v1/feedback", json={"request_id": "x", "label": "positive"})

            proxy.start()  # back: the spool is replayed
            eventually(lambda: client.get("/health/log").status_code == 200)
            after = client.get("/metrics").text
            replayed_ids = store.read_window()["request_id"].tolist()

    assert "sentimentops_prediction_log_dropped_total 0.0" in metrics
    assert "sentimentops_prediction_log_spool_records 60.0" in metrics
    assert "sentimentops_prediction_log_spool_bytes 0.0" not in metrics
    assert ready.status_code == 200  # logging is not serving
    assert log_health.status_code == 503
    assert log_health.json() | {"spool_bytes": 0, "spool_oldest": None} == {
        "status": "behind",
        "database_available": False,
        "queue_depth": 0,
        "spool_records": 60,
        "spool_bytes": 0,
        "spool_max_bytes": 4 * 2**30,
        "spool_oldest": None,
        "written": 1,
        "replayed": 0,
        "dropped": 0,
        "rejected": 0,
    }
    assert feedback.status_code == 503
    assert feedback.json()["error"]["type"] == "unavailable"
    # Every answer once, in the order answered.
    assert replayed_ids == [response.json()["request_id"] for response in [first, *answers]]
    assert "sentimentops_prediction_log_replayed_total 60.0" in after
    assert "sentimentops_prediction_log_spool_records 0.0" in after
