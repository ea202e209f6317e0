"""A prediction-log database outage in the middle of a load run: ``bench_reliability.py
--outage-seconds N``.

The server reaches its PostgreSQL database through the tests' TCP proxy; ``--outage-start``
seconds into the load the proxy stops (connections refused, open ones cut) for N seconds, then
starts again. Meanwhile the server's ``/metrics`` is read every second: the spool's records and
bytes, and when the spool is empty again. Locust keeps every request's start time and latency
(``locustfile.py``), so the p99 before, during and after the outage come from the same run.
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families
from tests.prediction_log.tcp_proxy import TcpProxy

SAMPLE_SECONDS = 1.0


@contextmanager
def proxied(log_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A running proxy in front of ``log_url``'s database, and the URL through it."""
    target = urlsplit(log_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        yield proxy, log_url.replace(f":{target.port}/", f":{proxy.port}/")


def spool_metrics(base_url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=30) as response:
        text = response.read().decode()
    wanted = {
        "sentimentops_prediction_log_spool_records": "records",
        "sentimentops_prediction_log_spool_bytes": "bytes",
        "sentimentops_prediction_log_replayed_total": "replayed",
        "sentimentops_prediction_log_dropped_total": "dropped",
    }
    return {
        wanted[sample.name]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in wanted
    }


@dataclass
class LogOutage:
    """Stops ``proxy`` ``start_after`` seconds after :meth:`start` for ``seconds``; samples the
    server's spool every second until :meth:`stop`. Times are Unix seconds."""

    proxy: TcpProxy
    base_url: str
    start_after: float
    seconds: float
    began_at: float | None = None
    ended_at: float | None = None
    caught_up_at: float | None = None  # the spool empty again after the outage
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for target in (self._outage, self._sample):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_caught_up(self, timeout: float) -> None:
        """Return once the outage is over and the server's spool is empty again."""
        deadline = time.monotonic() + timeout
        while self.caught_up_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the spool was not replayed within {timeout:.0f} s")
            time.sleep(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        if self.began_at is not None and self.ended_at is None:
            self.proxy.start()  # stopped during the outage: the database back for the count
            self.ended_at = time.time()

    def _outage(self) -> None:
        if self._stopping.wait(self.start_after):
            return
        self.proxy.stop()
        self.began_at = time.time()
        self._stopping.wait(self.seconds)
        self.proxy.start()
        self.ended_at = time.time()

    def _sample(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            spool = spool_metrics(self.base_url)
            self.samples.append((now, spool))
            if self.ended_at is not None and self.caught_up_at is None and not spool["records"]:
                self.caught_up_at = now
            self._stopping.wait(SAMPLE_SECONDS)

    def report(self, latencies: list[tuple[float, float]]) -> dict[str, Any]:
        """The outage's figures: when, the spool at its fullest, the replay time, and the
        requests and p99 latency before, during and after it."""
        assert self.began_at is not None, "the load ended before the outage began"
        assert self.ended_at is not None, "the load ended during the outage"
        phases = {
            "before": (float("-inf"), self.began_at),
            "during": (self.began_at, self.ended_at),
            "after": (self.ended_at, float("inf")),
        }
        by_phase = {
            name: sorted(ms for started, ms in latencies if low <= started < high)
            for name, (low, high) in phases.items()
        }
        return {
            "seconds": round(self.ended_at - self.began_at, 1),
            "max_spool_records": int(max(s["records"] for _, s in self.samples)),
            "max_spool_bytes": int(max(s["bytes"] for _, s in self.samples)),
            "replay_seconds": (
                None if self.caught_up_at is None else round(self.caught_up_at - self.ended_at, 1)
            ),
            "replayed": int(self.samples[-1][1]["replayed"]),
            "dropped": int(self.samples[-1][1]["dropped"]),
            "requests": {name: len(values) for name, values in by_phase.items()},
            "p99_ms": {name: percentile(values, 0.99) for name, values in by_phase.items()},
            "p50_ms": {name: percentile(values, 0.50) for name, values in by_phase.items()},
        }


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``sorted_values``."""
    if not sorted_values:
        return None
    return sorted_values[max(math.ceil(fraction * len(sorted_values)) - 1, 0)]


def read_latencies(stats_file: Path) -> list[tuple[float, float]]:
    """What ``locustfile.py`` kept: each request's start (Unix seconds) and latency (ms)."""
    kept = json.loads(Path(f"{stats_file}_latencies.json").read_text())
    return [(float(start), float(ms)) for start, ms in kept]


def markdown(outage: dict[str, Any]) -> str:
    p99, requests = outage["p99_ms"], outage["requests"]
    return "\n".join(
        [
            f"Log database outage of {outage['seconds']:g} s: spool at most "
            f"{outage['max_spool_records']:,} records, "
            f"{outage['max_spool_bytes'] / 2**20:.1f} MiB; "
            f"replayed {outage['replayed']:,} in {outage['replay_seconds']} s after the database "
            f"came back; dropped {outage['dropped']}.",
            "",
            "| phase | requests | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {name} the outage | {requests[name]:,} | {outage['p50_ms'][name]} | "
                f"{p99[name]} |"
                for name in ("before", "during", "after")
            ),
        ]
    )
