"""API faults injected for real: the prediction-log PostgreSQL becomes unreachable.

The database is never stopped (other tests share the machine's PostgreSQL): the API reaches it
through a TCP proxy, and stopping the proxy refuses new connections and cuts open ones, which
is what the API sees of a database that went down. An outage in the middle of serving, in
process, is covered by ``tests/serving/test_prediction_logging.py::
test_log_database_outage_costs_log_rows_not_answers``; these tests add an outage at start-up,
a real server process whose books are read over HTTP, and a database that hangs (accepts bytes,
never answers) instead of refusing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from sentimentops.prediction_log import PredictionLogStore
from tests.prediction_log.tcp_proxy import TcpProxy
from tests.servers import eventually, free_port, running
from tests.serving.conftest import ClientFactory

SENTIMENTOPS = str(Path(sys.executable).parent / "sentimentops")
TEXTS = ["A wonderful, moving film.", "Dull, tedious and badly acted.", "Not bad at all."]


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
            # Every record settled: an empty queue alone can still mean a batch in the writer's
            # hands, written to the database but not yet counted (seen under load).
            eventually(lambda: writer.store_available and writer.written + writer.dropped == 30)
            metrics = client.get("/metrics").text
        finally:
            proxy.stop()

    logged = rows_in(postgres_url)
    dropped = metric(metrics, "sentimentops_prediction_log_dropped_total")
    written = metric(metrics, "sentimentops_prediction_log_written_total")
    assert logged + dropped == 30  # every answered prediction: logged, or dropped and counted
    assert written == logged
    assert 0 < dropped < 30


def test_served_process_counts_every_answer_through_a_log_outage(
    model_folder: Path, postgres_url: str, tmp_path: Path
) -> None:
    """A real ``sentimentops serve`` process under concurrent load while its log database goes
    away and comes back: every request answered 200, and its books balance over HTTP: rows in
    the database + dropped_total = requests answered, written_total = rows."""
    target = urlsplit(postgres_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        env = os.environ | {
            "SENTIMENTOPS_HOME": str(tmp_path / "home"),
            "SENTIMENTOPS_PREDICTION_LOG__URL": through(proxy, postgres_url),
            "SENTIMENTOPS_PREDICTION_LOG__QUEUE_SIZE": "20",
            "SENTIMENTOPS_PREDICTION_LOG__BATCH_SIZE": "5",
            "SENTIMENTOPS_PREDICTION_LOG__FLUSH_SECONDS": "0.05",
            "SENTIMENTOPS_SERVING__RELOAD_INTERVAL_SECONDS": "0",
        }
        command = [SENTIMENTOPS, "serve", "--port", str(port), "--model", str(model_folder)]
        with running(command, f"{base}/health/ready", tmp_path / "api.log", env):
            assert _predict_concurrently(base, 10) == [200] * 10
            eventually(lambda: _books(base)["written"] == 10)

            proxy.stop()  # the log database goes away under load
            during = _predict_concurrently(base, 80)
            eventually(lambda: _books(base)["dropped"] > 0)

            proxy.start()  # back
            eventually(lambda: _books(base)["written"] + _books(base)["dropped"] == 90)
            books = _books(base)
        # The server has stopped (SIGTERM): its writer flushed what it still held.

    assert during == [200] * 80
    assert books["queue"] == 0
    assert rows_in(postgres_url) == books["written"]
    assert rows_in(postgres_url) + books["dropped"] == 90
    logged, dropped = books["written"], books["dropped"]
    print(f"served process: 90 answered, {logged:.0f} logged, {dropped:.0f} dropped")


def _predict_concurrently(base: str, count: int) -> list[int]:
    """POST ``count`` predictions from 4 threads; their status codes, in order."""

    def post(index: int) -> int:
        body = json.dumps({"text": f"{TEXTS[index % 3]} ({index})"}).encode()
        request = urllib.request.Request(
            f"{base}/v1/predict", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(post, range(count)))


def _books(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        "written": metric(text, "sentimentops_prediction_log_written_total"),
        "dropped": metric(text, "sentimentops_prediction_log_dropped_total"),
        "queue": metric(text, "sentimentops_prediction_log_queue_depth"),
    }


def shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut or closed
        connection.shutdown(socket.SHUT_RDWR)


class FreezableProxy(TcpProxy):
    """A proxy that can freeze: connections stay open and bytes are accepted, but nothing is
    passed on until it thaws, as with a database host that hangs (a paused VM, a stalled disk).
    Unlike a refused connection this gives the client no error at all, only silence."""

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__(target_host, target_port)
        self.thawed = threading.Event()
        self.thawed.set()

    def stop(self) -> None:
        self.thawed.set()  # a frozen forwarder would never end
        super().stop()

    def _forward(self, source: socket.socket, sink: socket.socket) -> None:
        # TcpProxy._forward, waiting while frozen before passing bytes on.
        try:
            while data := source.recv(65536):
                self.thawed.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            shut(sink)
            shut(source)
            with self._lock:
                self._open_sockets.discard(source)
            source.close()


def test_a_hung_log_database_never_slows_the_answers(
    make_client: ClientFactory, postgres_url: str
) -> None:
    target = urlsplit(postgres_url)
    proxy = FreezableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.start()
    try:
        with make_client(
            prediction_log__url=through(proxy, postgres_url),
            prediction_log__queue_size="10",
            prediction_log__batch_size="5",
        ) as client:
            writer = client.app.state.api.writer  # type: ignore[attr-defined]
            assert client.post("/v1/predict", json={"text": TEXTS[0]}).status_code == 200
            eventually(lambda: writer.written == 1)

            proxy.thawed.clear()  # the database hangs: no error, no answer
            latencies, statuses = [], []
            for index in range(40):
                started = time.monotonic()
                response = client.post("/v1/predict", json={"text": TEXTS[index % 3]})
                latencies.append(time.monotonic() - started)
                statuses.append(response.status_code)
            eventually(lambda: writer.dropped > 0)

            proxy.thawed.set()  # it answers again: the hung write completes, the backlog follows
            eventually(lambda: writer.queue_depth == 0 and writer.written + writer.dropped == 41)
            metrics = client.get("/metrics").text
    finally:
        proxy.stop()

    assert statuses == [200] * 40
    assert max(latencies) < 1.0, f"slowest answer while the log hung: {max(latencies):.2f} s"
    assert rows_in(postgres_url) + writer.dropped == 41
    assert metric(metrics, "sentimentops_prediction_log_dropped_total") == writer.dropped
    print(
        f"hung log: 41 answered, slowest {max(latencies) * 1000:.0f} ms, {writer.dropped} dropped"
    )
