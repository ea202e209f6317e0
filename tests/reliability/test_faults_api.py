"""API faults injected for real: the prediction-log PostgreSQL becomes unreachable.

The database is never stopped (other tests share the machine's PostgreSQL): the API reaches it
through a TCP proxy, and stopping the proxy refuses new connections and cuts open ones, which
is what the API sees of a database that went down. An outage in the middle of serving, in
process, is covered by ``tests/serving/test_prediction_logging.py::
test_log_database_outage_costs_log_rows_not_answers``; these tests add an outage at start-up
and a real server process whose books are read over HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sentimentops.prediction_log import PredictionLogStore
from tests.prediction_log.tcp_proxy import TcpProxy
from tests.serving.conftest import ClientFactory

TEXTS = ["A wonderful, moving film.", "Dull, tedious and badly acted.", "Not bad at all."]


def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met in time")


def metric(metrics_text: str, name: str) -> float:
    """The value of an unlabelled metric in Prometheus' text format."""
    found = re.search(rf"^{name} (\S+)$", metrics_text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def rows_in(url: str) -> int:
    store = PredictionLogStore(url)
    try:
        return store.count_predictions()
    finally:
        store.dispose()


def through(proxy: TcpProxy, url: str) -> str:
    port = urlsplit(url).port
    return url.replace(f":{port}/", f":{proxy.port}/")


def test_log_database_down_at_start_up_then_back(
    make_client: ClientFactory, postgres_url: str
) -> None:
    """A fresh database the API could not migrate at start-up: it serves anyway, and once the
    database answers, the schema is created and the retained predictions land."""
    target = urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)  # not started: down
    with make_client(
        prediction_log__url=through(proxy, postgres_url),
        prediction_log__queue_size="10",
        prediction_log__batch_size="5",
    ) as client:
        answers = [client.post("/v1/predict", json={"text": t}) for t in TEXTS * 10]
        assert [response.status_code for response in answers] == [200] * 30
        writer = client.app.state.api.writer  # type: ignore[attr-defined]
        eventually(lambda: writer.dropped > 0 and not writer.store_available)

        proxy.start()  # the database is back
        try:
            eventually(lambda: writer.queue_depth == 0 and writer.store_available)
            metrics = client.get("/metrics").text
        finally:
            proxy.stop()

    logged = rows_in(postgres_url)
    dropped = metric(metrics, "sentimentops_prediction_log_dropped_total")
    written = metric(metrics, "sentimentops_prediction_log_written_total")
    assert logged + dropped == 30  # every answered prediction: logged, or dropped and counted
    assert written == logged
    assert 0 < dropped < 30
