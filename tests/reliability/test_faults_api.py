"""API faults injected for real: the prediction-log PostgreSQL becomes unreachable.

The database is never stopped (other tests share the machine's PostgreSQL): the API reaches it
through a TCP proxy, and stopping the proxy refuses new connections and cuts open ones, which
is what the API sees of a database that went down. An outage in the middle of serving, in
process, is covered by ``tests/serving/test_prediction_logging.py::
test_log_database_outage_costs_neither_answers_nor_log_rows``; these tests add real
``sentimentops serve`` processes under concurrent clients: an outage (and one of two minutes,
in ``make test-stack``), a server killed with SIGKILL in the middle of one and started again,
a database unreachable at start-up, a spool that fills up, and a database that hangs (accepts
bytes, never answers) instead of refusing.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from tests.prediction_log.tcp_proxy import TcpProxy
from tests.servers import eventually, free_port, stop, wait_for
from tests.serving.conftest import ClientFactory

SENTIMENTOPS = str(Path(sys.executable).parent / "sentimentops")
TEXTS = ["A wonderful, moving film.", "Dull, tedious and badly acted.", "Not bad at all."]
CLIENTS = 4


def metric(metrics_text: str, name: str) -> float:
    """The value of an unlabelled metric in Prometheus' text format."""
    found = re.search(rf"^{name} (\S+)$", metrics_text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def logged(url: str) -> Counter[str]:
    """How many rows the predictions table holds per request id."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT request_id FROM predictions"))
            return Counter(request_id for (request_id,) in rows)
    finally:
        engine.dispose()


def through(proxy: TcpProxy, url: str) -> str:
    port = urlsplit(url).port
    return url.replace(f":{port}/", f":{proxy.port}/")


class Server:
    """``sentimentops serve`` in a process of its own, its prediction log at ``log_url``."""

    def __init__(self, model: Path, home: Path, log_url: str, **settings: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = home.parent / f"server-{self.port}.log"
        self.env = (
            os.environ
            | {
                "SENTIMENTOPS_HOME": str(home),
                "SENTIMENTOPS_PREDICTION_LOG__URL": log_url,
                "SENTIMENTOPS_PREDICTION_LOG__FLUSH_SECONDS": "0.05",
                "SENTIMENTOPS_SERVING__RELOAD_INTERVAL_SECONDS": "0",
            }
            | {f"SENTIMENTOPS_{name.upper()}": value for name, value in settings.items()}
        )
        command = [SENTIMENTOPS, "serve", "--port", str(self.port), "--model", str(model)]
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=self.env
            )
        try:
            wait_for(f"{self.base}/health/ready", self.process)
        except BaseException:
            self.kill()
            raise

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def log_health(self) -> dict[str, object]:
        return dict(json.loads(self.get("/health/log")[1]))

    def caught_up(self) -> bool:
        return self.get("/health/log")[0] == 200

    def terminate(self) -> None:
        assert stop(self.process, 60), "the server did not stop within 60 s of SIGTERM"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


class Clients:
    """``CLIENTS`` threads posting predictions back to back until stopped; ``answered`` holds
    the request id of every 200 received (a request cut by a killed server is not answered)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.answered: list[str] = []
        self.refused = 0
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._post_until_stopped, args=(n,)) for n in range(CLIENTS)
        ]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()

    def _post_until_stopped(self, client: int) -> None:
        sent = 0
        while not self._stopping.is_set():
            body = json.dumps({"text": f"{TEXTS[sent % 3]} ({client}-{sent})"}).encode()
            request = urllib.request.Request(
                f"{self.base}/v1/predict", body, {"Content-Type": "application/json"}
            )
            sent += 1
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self.answered.append(json.load(response)["request_id"])
            except (OSError, http.client.HTTPException, ValueError):  # killed: not answered
                self.refused += 1
                self._stopping.wait(0.05)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """A running proxy in front of the test's PostgreSQL database: stopping it is an outage."""
    target = urlsplit(postgres_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as running:
        yield running


def answer_through_an_outage(
    server: Server, proxy: TcpProxy, seconds: float, catch_up_timeout: float
) -> tuple[Clients, dict[str, object]]:
    """Clients on ``server`` before, during (``seconds``) and after an outage of its log,
    until the server has replayed its spool; the clients' books, and /health/log at the end
    of the outage."""
    with Clients(server.base) as clients:
        eventually(lambda: len(clients.answered) >= 20)
        proxy.stop()
        eventually(lambda: server.log_health()["status"] == "behind")
        time.sleep(seconds)
        behind = server.log_health()
        proxy.start()
        eventually(server.caught_up, timeout=catch_up_timeout)  # while new records arrive
    return clients, behind


def test_an_outage_under_load_loses_no_answered_prediction(
    model_folder: Path, postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    """A real server under 4 concurrent clients while its log database is away for 10 s:
    every answered prediction in the table exactly once, none dropped."""
    server = Server(model_folder, tmp_path / "home", through(proxy, postgres_url))
    try:
        clients, behind = answer_through_an_outage(server, proxy, 10, catch_up_timeout=60)
        metrics = server.get("/metrics")[1]
    finally:
        server.terminate()  # SIGTERM: what the clients sent last is flushed

    rows = logged(postgres_url)
    assert clients.refused == 0
    assert set(rows) == set(clients.answered)
    assert set(rows.values()) == {1}  # no duplicate
    assert metric(metrics, "sentimentops_prediction_log_dropped_total") == 0
    assert metric(metrics, "sentimentops_prediction_log_replayed_total") >= behind["spool_records"]  # type: ignore[operator]
    print(f"10 s outage: {len(clients.answered)} answered, {sum(rows.values())} rows; {behind}")


@pytest.mark.stack
def test_a_two_minute_outage_under_load_loses_no_answered_prediction(
    model_folder: Path, postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    """The issue's case: the log database away for 2 minutes under 4 concurrent clients."""
    server = Server(model_folder, tmp_path / "home", through(proxy, postgres_url))
    try:
        clients, behind = answer_through_an_outage(server, proxy, 120, catch_up_timeout=300)
        metrics = server.get("/metrics")[1]
    finally:
        server.terminate()

    rows = logged(postgres_url)
    assert clients.refused == 0
    assert set(rows) == set(clients.answered)
    assert set(rows.values()) == {1}
    assert metric(metrics, "sentimentops_prediction_log_dropped_total") == 0
    print(
        f"2-minute outage: {len(clients.answered)} answered, {sum(rows.values())} rows, "
        f"{metric(metrics, 'sentimentops_prediction_log_replayed_total'):.0f} replayed; "
        f"at the end of the outage {behind}"
    )


def test_a_server_killed_during_an_outage_loses_no_answered_prediction(
    model_folder: Path, postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    """SIGKILL in the middle of an outage, under load; the database back; the server started
    again: it adopts the spool and every answered prediction lands once."""
    home = tmp_path / "home"
    server = Server(model_folder, home, through(proxy, postgres_url))
    try:
        with Clients(server.base) as clients:
            eventually(lambda: len(clients.answered) >= 20)
            proxy.stop()
            eventually(lambda: server.log_health()["status"] == "behind")
            time.sleep(5)
            behind = server.log_health()
            server.kill()  # the clients' requests in flight are cut: not answered
    finally:
        server.kill()
    spool_files = sorted(path.name for path in (home / "spool").glob("*.spool"))

    proxy.start()
    restarted = Server(model_folder, home, through(proxy, postgres_url))
    try:
        eventually(restarted.caught_up, timeout=60)
        metrics = restarted.get("/metrics")[1]
    finally:
        restarted.terminate()

    rows = logged(postgres_url)
    answered = set(clients.answered)
    assert len(spool_files) == 1
    assert answered <= set(rows)  # every answer, once
    assert set(rows.values()) == {1}
    # A request in flight at the kill may be logged without its answer reaching the client.
    assert len(set(rows) - answered) <= CLIENTS
    assert metric(metrics, "sentimentops_prediction_log_replayed_total") >= behind["spool_records"]
    assert list((home / "spool").glob("*.spool")) == []  # replayed and removed
    print(
        f"killed during an outage: {len(answered)} answered, {sum(rows.values())} rows "
        f"({behind['spool_records']} spooled at the kill)"
    )


def test_a_server_stopped_during_an_outage_keeps_its_records_for_the_next(
    model_folder: Path, postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    """SIGTERM while the database is away: in-flight requests finish, the queue goes to the
    spool, and the next server on the same home replays it once the database is back."""
    home = tmp_path / "home"
    server = Server(model_folder, home, through(proxy, postgres_url))
    try:
        proxy.stop()
        with Clients(server.base) as clients:
            eventually(lambda: len(clients.answered) >= 200)
            server.terminate()  # SIGTERM with requests in flight
    finally:
        server.kill()
    left = sum(1 for _ in (home / "spool").glob("*.spool"))

    proxy.start()
    restarted = Server(model_folder, home, through(proxy, postgres_url))
    try:
        eventually(restarted.caught_up, timeout=60)
    finally:
        restarted.terminate()

    rows = logged(postgres_url)
    assert left == 1
    assert set(rows) == set(clients.answered)  # in flight at the signal: answered, and logged
    assert set(rows.values()) == {1}


def test_log_database_down_at_start_up_then_back(
    model_folder: Path, postgres_url: str, tmp_path: Path
) -> None:
    """A fresh database the API could not migrate at start-up: it serves anyway, and once the
    database answers, the schema is created and every answered prediction lands."""
    target = urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)  # not started: down
    server = Server(model_folder, tmp_path / "home", through(proxy, postgres_url))
    try:
        with Clients(server.base) as clients:
            eventually(lambda: len(clients.answered) >= 30)
        eventually(lambda: server.log_health()["spool_records"] == len(clients.answered))
        proxy.start()  # the database is back
        eventually(server.caught_up, timeout=60)
        metrics = server.get("/metrics")[1]
    finally:
        server.terminate()
        proxy.stop()

    rows = logged(postgres_url)
    assert set(rows) == set(clients.answered)
    assert set(rows.values()) == {1}
    assert metric(metrics, "sentimentops_prediction_log_dropped_total") == 0
    assert metric(metrics, "sentimentops_prediction_log_written_total") == len(rows)


def test_a_full_spool_drops_exactly_what_it_cannot_hold_and_the_server_stays_healthy(
    model_folder: Path, postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    server = Server(
        model_folder,
        tmp_path / "home",
        through(proxy, postgres_url),
        prediction_log__spool_max_bytes=str(64 * 1024),
    )
    long_text = "A long review. " * 200  # 3,000 characters: a 64 KiB spool holds some 20
    try:
        proxy.stop()
        statuses = []
        for _ in range(100):
            body = json.dumps({"text": long_text}).encode()
            request = urllib.request.Request(
                f"{server.base}/v1/predict", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                statuses.append(response.status)
        ready = server.get("/health/ready")[0]
        full = server.log_health()
        proxy.start()
        eventually(server.caught_up, timeout=60)
        metrics = server.get("/metrics")[1]
    finally:
        server.terminate()

    rows = logged(postgres_url)
    dropped = metric(metrics, "sentimentops_prediction_log_dropped_total")
    reports = server.output.read_text().count("Prediction log spool full")
    assert statuses == [200] * 100
    assert ready == 200
    assert 0 < full["spool_bytes"] <= 64 * 1024  # type: ignore[operator]
    assert sum(rows.values()) == full["spool_records"]  # all that fitted, replayed
    assert sum(rows.values()) + dropped == 100
    assert 50 < dropped < 100
    assert full["dropped"] == dropped
    assert reports == 1  # once a minute, not once a record
    print(f"full spool: 100 answered, {sum(rows.values())} logged, {dropped:.0f} dropped")


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
            spooled_while_hung = writer.status().spool.records

            proxy.thawed.set()  # it answers again: the hung write completes, the spool follows
            eventually(lambda: client.get("/health/log").status_code == 200)
            metrics = client.get("/metrics").text
    finally:
        proxy.stop()

    assert statuses == [200] * 40
    assert max(latencies) < 1.0, f"slowest answer while the log hung: {max(latencies):.2f} s"
    assert sum(logged(postgres_url).values()) == 41
    assert metric(metrics, "sentimentops_prediction_log_dropped_total") == 0
    print(
        f"hung log: 41 answered, slowest {max(latencies) * 1000:.0f} ms, "
        f"{spooled_while_hung} spooled while it hung"
    )
