"""The API under 30 seconds of mixed load: the CI version of ``make bench-reliability``.

It runs the benchmark's own harness (``benchmarks/bench_reliability.py``) as a subprocess:
``sentimentops serve`` with its prediction log in a fresh PostgreSQL database, 64 locust
clients sending real reviews as single, batch (8 texts) and V2 (4 texts) requests. The 5-minute
run is the benchmark; this one proves the same properties on a shorter run. Latency is printed,
never asserted: CI shares its two cores with whatever else runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "benchmarks" / "bench_reliability.py"
SECONDS = 30
USERS = 64
# RSS 10 s into the load against its end. The server holds about 330 MiB (the model and the
# libraries) and a healthy one grows under 1% here (measured: +0.01% and +0.27%). The bound
# leaves room for what a healthy server may legitimately hold at the end: a full prediction
# log queue (10,000 records with their texts, about 20 MiB, 6%) if PostgreSQL lags on a busy
# machine. 15% is about 50 MiB: a leak of 10 KiB per request (some 6,000 requests in those
# 20 s here) exceeds it; slower leaks are the 5-minute run's to find (its goal: under 10%
# from minute 1 to minute 5).
RSS_BASELINE_SECONDS = 10
MAX_RSS_GROWTH_PCT = 15


pytestmark = pytest.mark.stack  # a served API under load for a minute: make test-stack


def run_harness(
    model: Path, output: Path, *extra: str, seconds: int = SECONDS
) -> tuple[subprocess.CompletedProcess[str], Any]:
    command = [
        sys.executable,
        str(HARNESS),
        *("--duration", str(seconds), "--users", str(USERS), "--model", str(model)),
        *("--rss-baseline-seconds", str(RSS_BASELINE_SECONDS)),
        *("--max-rss-growth", str(MAX_RSS_GROWTH_PCT), "--output", str(output)),
        *("--calibration-runs", "1"),  # the figures are the test's, not a benchmark's
        *extra,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    print(completed.stdout)  # the Markdown report: request counts, p50/p99, RSS, log rows
    assert output.exists(), f"the harness failed:\n{completed.stdout}\n{completed.stderr}"
    return completed, json.loads(output.read_text())


def test_thirty_seconds_of_mixed_load_answer_every_request_and_log_every_prediction(
    model_folder: Path, tmp_path: Path
) -> None:
    completed, report = run_harness(model_folder, tmp_path / "reliability.json")
    load, server = report["load"], report["server"]

    for name, kind in load["kinds"].items():
        assert kind["requests"] > 0, f"no {name} request was sent: the mix is not exercised"
    assert report["client_5xx"] == 0
    assert server["server_5xx"] == 0
    assert load["failures"] == 0, load["failure_messages"]
    # Every prediction answered is one row, per endpoint: a batch of 8 answered is 8 rows.
    expected_rows = {
        name: kind["requests"] * kind["texts_each"] for name, kind in load["kinds"].items()
    }
    assert report["log_rows"] == expected_rows
    assert server["predictions"] == sum(expected_rows.values())
    assert server["log_dropped"] == server["log_rejected"] == 0
    assert report["rss"]["growth_pct"] < MAX_RSS_GROWTH_PCT, report["rss_samples"]
    assert completed.returncode == 0, completed.stdout


def test_a_log_database_outage_under_mixed_load_loses_no_prediction(
    model_folder: Path, tmp_path: Path
) -> None:
    """The CI version of the outage benchmark: 64 clients for 60 s, the log database away for
    20 s of them; the server spools, replays, and every prediction answered is one row."""
    completed, report = run_harness(
        model_folder,
        tmp_path / "outage.json",
        *("--outage-start", "15", "--outage-seconds", "20"),
        seconds=60,
    )
    load, server, outage = report["load"], report["server"], report["outage"]

    assert report["client_5xx"] == server["server_5xx"] == 0
    assert load["failures"] == 0, load["failure_messages"]
    expected_rows = {
        name: kind["requests"] * kind["texts_each"] for name, kind in load["kinds"].items()
    }
    assert report["log_rows"] == expected_rows
    assert server["log_dropped"] == 0
    assert outage["seconds"] >= 20
    assert outage["max_spool_records"] > 0
    assert outage["replay_seconds"] is not None
    assert outage["requests"]["during"] > 0
    assert completed.returncode == 0, completed.stdout
