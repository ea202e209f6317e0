"""Peak memory of ``sentimentops monitor --current FILE`` as a user runs it (bench_monitor.py).

A champion of ``sentimentops train --sample 1200 --models logreg`` is trained in a temporary
SENTIMENTOPS_HOME (a user's environment: no MLflow or Prefect server). For each size, a CSV of
the vendored reviews (``review`` and ``sentiment``) repeated to that many rows is judged
``repeat`` times, each run a fresh process; its peak is ``ru_maxrss`` (maximum resident set
size, as ``/usr/bin/time -v`` reports it), its wall time from start to exit.

Each run goes through a small wrapper process that starts the CLI, waits for it and reads
``getrusage(RUSAGE_CHILDREN)``: with one child, that is the child's own peak (and that of any
process the child waited for). Not this process's: ``RUSAGE_CHILDREN`` keeps the largest child
so far, and Linux carries the parent's high-water mark into a child at exec (measure.peak_of),
which here would be the benchmark's reviews in memory; the wrapper's own is about 10 MiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from calibration import DATA, Calibration, cell, markdown_table, spread
from measure import CLI, timed, user_env

CHAMPION = ["train", "--sample", "1200", "--models", "logreg"]
MONITOR_OK = (0, 3)  # 3: an alert fired, the run itself succeeded

WRAPPER = """
import json, resource, subprocess, sys, time
with open(sys.argv[1], "wb") as log:
    started = time.perf_counter()
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"returncode": code, "seconds": seconds, "peak_kib": peak_kib}))
"""


def run_measured(command: list[str], log: Path, env: dict[str, str]) -> tuple[float, float]:
    """Peak RSS in MiB and wall seconds of ``command``, its output in ``log``; raises unless
    it exits with a code of MONITOR_OK."""
    wrapper = [sys.executable, "-c", WRAPPER, str(log), *command]
    completed = subprocess.run(wrapper, env=env, capture_output=True, text=True, check=True)
    outcome = json.loads(completed.stdout)
    if outcome["returncode"] not in MONITOR_OK:
        raise RuntimeError(f"{' '.join(command)} exited {outcome['returncode']}: see {log}")
    return outcome["peak_kib"] / 1024, outcome["seconds"]


def write_reviews(path: Path, rows: int) -> int:
    """A CSV of the vendored reviews repeated to ``rows`` rows, written a copy at a time;
    returns its size in bytes."""
    reviews = pd.read_parquet(DATA, columns=["review", "sentiment"])
    written = 0
    while written < rows:
        part = reviews.iloc[: rows - written]
        part.to_csv(path, mode="a" if written else "w", header=not written, index=False)
        written += len(part)
    return path.stat().st_size


def measure_memory(sizes: list[int], repeat: int, calibration: Calibration) -> dict[str, Any]:
    """Peak RSS and wall time of ``repeat`` monitoring runs per size."""
    measured = []
    with tempfile.TemporaryDirectory(prefix="bench-monitor-memory-") as scratch:
        folder = Path(scratch)
        env = user_env(folder / "home")
        seconds = timed([CLI, *CHAMPION], folder / "train.log", env=env)
        print(f"sentimentops {' '.join(CHAMPION)}: {seconds:.0f} s", flush=True)
        for rows in sizes:
            current = folder / f"reviews-{rows}.csv"
            size = write_reviews(current, rows)
            peaks, walls = [], []
            for attempt in range(repeat):
                name = f"{rows}-{attempt}"
                command = [CLI, "monitor", "--current", str(current)]
                command += ["--output-dir", str(folder / "reports" / name)]
                peak, wall = run_measured(command, folder / f"monitor-{name}.log", env)
                peaks.append(peak)
                walls.append(wall)
                print(f"{rows:,} rows: {peak:,.0f} MiB, {wall:.1f} s", flush=True)
            current.unlink()
            measured.append(
                {
                    "rows": rows,
                    "csv_bytes": size,
                    "peak_rss_mib": spread(peaks),
                    "wall": calibration.figure(walls),
                }
            )
    return {
        "command": "sentimentops monitor --current FILE",
        "champion": " ".join(["sentimentops", *CHAMPION]),
        "files": "the vendored reviews (review, sentiment) repeated to the rows, CSV",
        "peak": "ru_maxrss of the CLI process (and of any it waited for), MiB",
        "repeat": repeat,
        "sizes": measured,
    }


def memory_table(memory: dict[str, Any]) -> str:
    """The Markdown table of the measured sizes: peak RSS, then wall time, median (min-max)."""
    rows = []
    for size in memory["sizes"]:
        wall = size["wall"]
        rows.append(
            [
                f"{size['rows']:,} reviews ({size['csv_bytes'] / 1e6:.0f} MB CSV)",
                cell(size["peak_rss_mib"]["runs"], " MiB"),
                cell(wall["seconds"]["runs"], " s"),
                cell(wall["multiple"]["runs"], "x"),
            ]
        )
    header = ["current file", "peak RSS", "wall time", "x calibration"]
    return markdown_table(header, rows, "lrrr")
