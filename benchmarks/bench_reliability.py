"""Reliability under load: the API under a headless locust run, checked end to end.

0. Measures the machine calibration (calibration.py).
1. Fits the champion configuration (see champion.py), unless ``--model`` names a model folder.
2. Starts ``sentimentops serve`` (one worker) on a free port, its prediction log in a fresh
   PostgreSQL database (team mode; ``--log-store sqlite`` for the local default).
3. Runs locust headless (``locustfile.py``: real reviews, single, batch and V2 requests) with
   ``--users`` clients for ``--duration`` seconds, sampling the server's RSS meanwhile.
4. Scrapes ``/metrics``, stops the server with SIGTERM (which flushes the log) and counts the
   prediction log's rows per endpoint.

With ``--outage-seconds N`` the log database goes away N seconds in the middle of the load
(``outage.py``): the server spools and replays, the report adds the spool's peak, the replay
time and the p99 before, during and after, and the rows are counted once the spool is empty.

Goals: no 5xx (seen by the clients or counted by the server), no failed request, RSS growth
under ``--max-rss-growth`` % between ``--rss-baseline-seconds`` and the end, and one log row
per prediction answered (a batch of 8 answered is 8 rows). The load is one long run, not
repeated: its requests/s are also given per calibration, its latencies in ms beside the
calibration. Prints a Markdown report, writes JSON (``--output``), and exits 1 when a goal is
missed. ``tests/reliability/test_load.py``
runs the same harness for 30 seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
from calibration import REPO, Calibration, number
from champion import champion_folder
from load_mix import MIX
from measure import BIN, RESULTS, benchmark_parser, calibrate_first, write_results
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(REPO))  # the test helpers start and probe servers the same way
import outage
from tests.servers import free_port, postgres_database, stop, wait_for

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
DEFAULT_OUTPUT = RESULTS / "reliability.json"
# Clients still in a request when the run time ends finish it (and are counted): otherwise the
# server would log predictions for answers locust threw away, and the log check would be off.
STOP_TIMEOUT_SECONDS = 30


def parse_args() -> argparse.Namespace:
    parser = benchmark_parser(__doc__, model=True)
    parser.add_argument("--duration", type=int, default=300, help="Seconds of load.")
    parser.add_argument("--users", type=int, default=64, help="Concurrent locust clients.")
    parser.add_argument("--spawn-rate", type=float, default=16, help="Clients started per second.")
    parser.add_argument("--log-store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rss-baseline-seconds", type=float, default=60.0)
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="Percent.")
    parser.add_argument("--sample-seconds", type=float, default=2.0, help="RSS sampling period.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results.")
    parser.add_argument(
        "--outage-seconds", type=float, default=0, help="Log database away this long (0: not)."
    )
    parser.add_argument(
        "--outage-start", type=float, default=60, help="Seconds into the load it goes away."
    )
    args = parser.parse_args()
    if args.outage_seconds and args.log_store != "postgresql":
        parser.error("--outage-seconds needs --log-store postgresql (a proxy in front of it)")
    return args


class RssSampler:
    """Samples the RSS of a process and its children on a thread: (Unix time, MiB)."""

    def __init__(self, pid: int, period: float) -> None:
        self._process = psutil.Process(pid)
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.samples: list[tuple[float, float]] = []

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = [self._process, *self._process.children(recursive=True)]
            rss = sum(process.memory_info().rss for process in processes)
            # Wall-clock time, to line the samples up with locust's request timestamps.
            self.samples.append((time.time(), rss / 2**20))
            self._stop.wait(self._period)


@dataclass
class KindResult:
    requests: int
    failures: int
    texts_each: int
    p50_ms: float | None
    p99_ms: float | None

    @property
    def predictions_answered(self) -> int:
        return (self.requests - self.failures) * self.texts_each


@dataclass
class LoadResult:
    """What locust saw, per request kind and in aggregate."""

    kinds: dict[str, KindResult]
    requests: int
    failures: int
    started_at: float  # Unix time of the first request
    ended_at: float  # and of the last answer
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    failure_messages: dict[str, int] = field(default_factory=dict)

    @property
    def client_5xx(self) -> int:
        return sum(n for message, n in self.failure_messages.items() if "HTTP 5" in message)


@contextmanager
def log_database(store: str, home: Path) -> Iterator[str]:
    """The prediction log's SQLAlchemy URL: a fresh PostgreSQL database, or the default SQLite
    file in the server's home."""
    if store == "sqlite":
        yield f"sqlite:///{home / 'prediction_log.db'}"
        return
    with postgres_database("sentimentops_reliability") as url:
        yield url


def start_server(model: Path, port: int, home: Path, log_url: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SENTIMENTOPS_HOME": str(home),
        "SENTIMENTOPS_PREDICTION_LOG__URL": log_url,
    }
    command = [str(BIN / "sentimentops"), "serve", "--model", str(model), "--port", str(port)]
    with (home.parent / "server.log").open("wb") as log:  # the server keeps its own copy
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM: in-flight requests finish and the prediction log queue is flushed."""
    if not stop(server, 60):
        raise RuntimeError("the server did not stop within 60 s of SIGTERM")


def run_locust(args: argparse.Namespace, host: str, scratch: Path) -> LoadResult:
    stats_file = scratch / "locust"
    command = [
        str(BIN / "locust"),
        *("-f", str(LOCUSTFILE), "--headless", "--host", host),
        *("--users", str(args.users), "--spawn-rate", str(args.spawn_rate)),
        *("--run-time", f"{args.duration}s", "--stop-timeout", str(STOP_TIMEOUT_SECONDS)),
        # The final stats, written after the last client stopped. (--csv files are written on a
        # timer and missed the last second of requests: the log check needs every one.)
        *("--json-file", str(stats_file), "--loglevel", "WARNING"),
    ]
    with (scratch / "locust.log").open("wb") as log:
        completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    # Locust exits 1 when any request failed; that is a result, reported below. Anything else
    # (a crash, a bad option) leaves no trustworthy statistics.
    if completed.returncode not in (0, 1):
        tail = (scratch / "locust.log").read_text()[-3000:]
        raise RuntimeError(f"locust exited with {completed.returncode}:\n{tail}")
    entries = json.loads(Path(f"{stats_file}.json").read_text())
    failures = json.loads(Path(f"{stats_file}_failures.json").read_text())
    return load_result(entries, failures)


def percentile_ms(response_times: dict[int, int], fraction: float) -> float | None:
    """Locust keeps response times rounded (to 2 significant digits from 100 ms on) with their
    counts; this reads a percentile off that histogram as locust's own report does."""
    total = sum(response_times.values())
    if not total:
        return None
    seen = 0
    for milliseconds in sorted(response_times):
        seen += response_times[milliseconds]
        if seen >= fraction * total:
            return float(milliseconds)
    return float(max(response_times))


def load_result(entries: list[dict[str, Any]], failures: list[dict[str, Any]]) -> LoadResult:
    """Per kind and overall counts and percentiles from locust's ``--json-file`` entries."""
    by_name = {entry["name"]: entry for entry in entries}
    everything: Counter[int] = Counter()
    kinds = {}
    for kind in MIX:
        entry = by_name.get(kind.name, {"num_requests": 0, "num_failures": 0, "response_times": {}})
        times = {int(ms): int(n) for ms, n in entry["response_times"].items()}
        everything.update(times)
        kinds[kind.name] = KindResult(
            requests=entry["num_requests"],
            failures=entry["num_failures"],
            texts_each=kind.texts,
            p50_ms=percentile_ms(times, 0.50),
            p99_ms=percentile_ms(times, 0.99),
        )
    requests = sum(kind.requests for kind in kinds.values())
    # From the first request to the last answer: the ramp-up is in, locust's start-up is not.
    started_at = min(entry["start_time"] for entry in entries)
    ended_at = max(entry["last_request_timestamp"] for entry in entries)
    return LoadResult(
        kinds=kinds,
        requests=requests,
        failures=sum(kind.failures for kind in kinds.values()),
        started_at=started_at,
        ended_at=ended_at,
        requests_per_s=round(requests / (ended_at - started_at), 1),
        p50_ms=percentile_ms(everything, 0.50),
        p99_ms=percentile_ms(everything, 0.99),
        failure_messages={item["message"]: item["occurrences"] for item in failures},
    )


def scrape_metrics(base_url: str) -> dict[str, float]:
    """The server's own totals so far: 5xx answered, predictions made, log queue outcomes."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=30) as response:
        text = response.read().decode()
    counts = {"server_5xx": 0.0, "predictions": 0.0, "log_dropped": 0.0, "log_rejected": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sentimentops_requests_total":
                counts["server_5xx"] += sample.value * sample.labels["status"].startswith("5")
            elif sample.name == "sentimentops_predictions_total":
                counts["predictions"] += sample.value
            elif sample.name == "sentimentops_prediction_log_dropped_total":
                counts["log_dropped"] += sample.value
            elif sample.name == "sentimentops_prediction_log_rejected_total":
                counts["log_rejected"] += sample.value
    return counts


def count_logged_rows(log_url: str) -> dict[str, int]:
    engine = sa.create_engine(log_url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT endpoint, COUNT(*) FROM predictions GROUP BY endpoint")
            return {endpoint: int(n) for endpoint, n in connection.execute(query)}
    finally:
        engine.dispose()


def rss_growth(
    samples: list[tuple[float, float]], load: LoadResult, baseline_seconds: float
) -> dict[str, Any]:
    """RSS ``baseline_seconds`` into the load (the first sample from then on) against the last
    sample taken while the load lasted, in MiB."""
    during = [(at - load.started_at, mib) for at, mib in samples if at <= load.ended_at]
    baseline = next((mib for at, mib in during if at >= baseline_seconds), None)
    if baseline is None:
        raise RuntimeError(f"no RSS sample {baseline_seconds} s into the load: run it longer")
    end_at, end = during[-1]
    return {
        "baseline_at_s": baseline_seconds,
        "baseline_mib": round(baseline, 1),
        "end_at_s": round(end_at, 1),
        "end_mib": round(end, 1),
        "peak_mib": round(max(mib for at, mib in during if at >= 0), 1),
        "growth_pct": round(100 * (end - baseline) / baseline, 2),
    }


def evaluate(
    load: LoadResult,
    server: dict[str, float],
    rows: dict[str, int],
    rss: dict[str, Any],
    max_rss_growth: float,
) -> dict[str, bool]:
    answered = sum(kind.predictions_answered for kind in load.kinds.values())
    per_endpoint = all(
        rows.get(name, 0) == kind.predictions_answered for name, kind in load.kinds.items()
    )
    return {
        "zero 5xx": load.client_5xx == 0 and server["server_5xx"] == 0,
        "zero failed requests": load.failures == 0,
        f"RSS growth < {max_rss_growth:g}%": rss["growth_pct"] < max_rss_growth,
        "log rows = predictions answered": sum(rows.values()) == answered and per_endpoint,
    }


def markdown(report: dict[str, Any], calibration: Calibration) -> str:
    load, rss = report["load"], report["rss"]
    per_calibration = number(calibration.per_calibration(load["requests_per_s"]))
    lines = [
        f"One run of {report['duration_s']} s of load at {report['users']} clients (a single "
        f"long run, not repeated); {calibration.describe()}.",
        "",
        "| request | texts each | requests | failures | p50 ms | p99 ms | log rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, kind in load["kinds"].items():
        lines.append(
            f"| `{name}` | {kind['texts_each']} | {kind['requests']:,} | {kind['failures']} | "
            f"{kind['p50_ms']} | {kind['p99_ms']} | {report['log_rows'].get(name, 0):,} |"
        )
    lines += [
        f"| all | | {load['requests']:,} | {load['failures']} | {load['p50_ms']} | "
        f"{load['p99_ms']} | {sum(report['log_rows'].values()):,} |",
        "",
        f"{load['requests_per_s']} requests/s ({per_calibration} per calibration) over "
        f"{report['load_seconds']} s; "
        f"{report['predictions_answered']:,} predictions "
        f"answered; 5xx: {report['client_5xx']} seen by clients, "
        f"{int(report['server']['server_5xx'])} counted by the server; "
        f"log dropped {int(report['server']['log_dropped'])}, "
        f"rejected {int(report['server']['log_rejected'])}.",
        f"RSS {rss['baseline_mib']} MiB at {rss['baseline_at_s']:g} s, {rss['end_mib']} MiB at "
        f"{rss['end_at_s']:g} s ({rss['growth_pct']:+}%), peak {rss['peak_mib']} MiB.",
        f"Load average (1 min) before {report['load_average_before']}, "
        f"after {report['load_average_after']}.",
        "",
        "| goal | met |",
        "| --- | --- |",
    ]
    lines += [f"| {goal} | {'yes' if met else '**no**'} |" for goal, met in report["goals"].items()]
    if "outage" in report:
        lines += ["", outage.markdown(report["outage"])]
    return "\n".join(lines)


@dataclass
class Measured:
    load: LoadResult
    server: dict[str, float]  # the server's counts during the load
    rows: dict[str, int]  # prediction log rows by endpoint, after the server stopped
    rss_samples: list[tuple[float, float]]
    load_average_before: float
    outage: dict[str, Any] | None = None  # outage.LogOutage.report, with --outage-seconds


def measure(args: argparse.Namespace, scratch: Path) -> Measured:
    model = champion_folder(args.model, scratch)
    home = scratch / "home"
    home.mkdir()
    with log_database(args.log_store, home) as log_url, ExitStack() as stack:
        served_url, proxy = log_url, None
        if args.outage_seconds:
            proxy, served_url = stack.enter_context(outage.proxied(log_url))
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = start_server(model, port, home, served_url)
        log_outage = None
        try:
            wait_for(f"{base_url}/health/ready", server, timeout=300)
            # Counted from here: the readiness probe's 503s while the model loaded are by design.
            before = scrape_metrics(base_url)
            load_average_before = round(os.getloadavg()[0], 2)
            if proxy is not None:
                log_outage = outage.LogOutage(
                    proxy, base_url, args.outage_start, args.outage_seconds
                )
                log_outage.start()
            with RssSampler(server.pid, args.sample_seconds) as sampler:
                load = run_locust(args, base_url, scratch)
            if log_outage is not None:  # rows are counted once the spool is replayed
                log_outage.wait_caught_up(timeout=3600)
            after = scrape_metrics(base_url)
        finally:
            if log_outage is not None:
                log_outage.stop()
            stop_server(server)
        rows = count_logged_rows(log_url)
    server_counts = {name: after[name] - before[name] for name in after}
    outage_report = (
        None if log_outage is None else log_outage.report(outage.read_latencies(scratch / "locust"))
    )
    return Measured(load, server_counts, rows, sampler.samples, load_average_before, outage_report)


def build_report(
    args: argparse.Namespace, measured: Measured, calibration: Calibration
) -> dict[str, Any]:
    load = measured.load
    rss = rss_growth(measured.rss_samples, load, args.rss_baseline_seconds)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "requests_per_calibration": round(calibration.per_calibration(load.requests_per_s)),
        "duration_s": args.duration,
        "users": args.users,
        "log_store": args.log_store,
        "load_average_before": measured.load_average_before,
        "load_average_after": round(os.getloadavg()[0], 2),
        "load_seconds": round(load.ended_at - load.started_at, 1),
        "load": asdict(load),
        "client_5xx": load.client_5xx,
        "predictions_answered": sum(k.predictions_answered for k in load.kinds.values()),
        "server": measured.server,
        "log_rows": measured.rows,
        "rss": rss,
        # Seconds since the first request (negative while locust started), MiB.
        "rss_samples": [
            (round(at - load.started_at, 1), round(mib, 1)) for at, mib in measured.rss_samples
        ],
        "goals": evaluate(load, measured.server, measured.rows, rss, args.max_rss_growth),
        **({"outage": measured.outage} if measured.outage else {}),
    }


def print_logs(scratch: Path) -> None:
    """The end of the server's and locust's output, for a run that missed a goal."""
    for name in ("server.log", "locust.log"):
        if (path := scratch / name).exists():
            print(f"--- end of {name}", path.read_text(errors="replace")[-4000:], sep="\n")


def main() -> None:
    args = parse_args()
    calibration = calibrate_first(args.calibration_runs)
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as folder:
        scratch = Path(folder)
        try:
            report = build_report(args, measure(args, scratch), calibration)
        except Exception:
            print_logs(scratch)
            raise
        if not all(report["goals"].values()):
            print_logs(scratch)
    print(markdown(report, calibration))
    write_results(args.output, report, calibration)
    sys.exit(0 if all(report["goals"].values()) else 1)


if __name__ == "__main__":
    main()
