"""Benchmark of the main job (``make run``): its wall time from an empty state, then again.

Runs ``sentimentops pipeline run main --json`` as ``make run`` does, twice, in a fresh
SENTIMENTOPS_HOME with a fresh Prefect home (so the first run also pays for creating the
temporary Prefect API's database, as on a fresh clone). The first run trains the full candidate
search on the official split; the second should reuse the registered training and the scored
batch, and only monitor again. Dependencies are installed before timing starts (``make setup``).

Run with ``make bench-run``; results go to ``benchmarks/results/run.json`` and BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "sentimentops")
TARGET_SECONDS = 600


def run_main(env: dict[str, str], log: Path) -> tuple[float, dict[str, Any]]:
    """One ``pipeline run main``: (wall seconds, its JSON result). Prefect's logs go to ``log``."""
    started = time.perf_counter()
    with log.open("w") as stderr:
        completed = subprocess.run(
            [CLI, "pipeline", "run", "main", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            check=False,
            cwd=REPO,
        )
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 3):  # 3: monitoring alerted, still a complete run
        raise RuntimeError(f"pipeline run main failed ({completed.returncode}); see {log}")
    return seconds, json.loads(completed.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        home = Path(scratch) / "state"
        env = os.environ | {
            "SENTIMENTOPS_HOME": str(home),
            "PREFECT_HOME": str(Path(scratch) / "prefect"),
            "COLUMNS": "200",
        }
        for name in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "SENTIMENTOPS_CONFIG"):
            env.pop(name, None)
        runs = []
        for attempt in ("first (empty state)", "second (unchanged)"):
            seconds, result = run_main(env, Path(scratch) / f"run-{len(runs)}.log")
            training = result["training"]
            runs.append(
                {
                    "run": attempt,
                    "seconds": round(seconds, 1),
                    "champion": training["champion"],
                    "family": training["family"],
                    "test_accuracy": round(training["test_metrics"]["accuracy"], 4),
                    "training_steps": training["steps"],
                    "batch_steps": list(result["batch"]["steps"].values()),
                    "batch_rows": result["batch"]["rows_in"],
                    "monitoring_verdict": result["monitoring"]["verdict"],
                }
            )
            print(json.dumps(runs[-1]), flush=True)

    report = {
        "command": "make bench-run",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "target_seconds": TARGET_SECONDS,
        "runs": runs,
        "first_run_within_target": runs[0]["seconds"] < TARGET_SECONDS,
    }
    out = REPO / "benchmarks" / "results" / "run.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n| run | wall time | steps reused | champion test accuracy | monitoring |")
    print("|---|---:|---|---:|---|")
    for run in runs:
        reused = [s for s, how in run["training_steps"].items() if how in ("cached", "reused")]
        reused += ["batch"] if "cached" in run["batch_steps"] else []
        print(
            f"| {run['run']} | {run['seconds']:.0f} s | {', '.join(reused) or '-'} | "
            f"{run['test_accuracy']:.4f} | {run['monitoring_verdict']} |"
        )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
