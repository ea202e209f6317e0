"""What a user meets, timed the way they meet it: fresh clones, fresh processes, wall time.

1. ``make run`` on fresh clones of this repository (install included), then once more in the
   same clone (what is unchanged is reused);
2. ``make test`` on fresh clones (install included), with the slowest 25 tests;
3. cold commands, each a whole process: ``monitor --current`` on 1,000 labelled reviews,
   ``predict`` on 1,000 reviews, and ``serve`` until ``/health/ready`` answers 200, against the
   champion the first clone's ``make run`` trained.

Every figure is the median of ``--repeat`` runs with its spread, in seconds and as a multiple
of the machine calibration (``calibration.py``) measured in the same run. A clone is of the
committed HEAD: uncommitted changes are not measured. Nothing is warmed but the uv package
cache that every install on this machine shares (a first install elsewhere also downloads).

Run with ``make bench-speed`` (about an hour: ``--only run,commands`` skips the test suites);
results go to ``benchmarks/results/speed.json`` and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
from calibration import DATA, REPO, Calibration, calibrate, table_row

GOALS = {
    "make run, first (fresh clone, install included)": 25.0,
    "make test (fresh clone, install included)": 30.0,
    "monitor --current, 1,000 labelled reviews": 0.6,
    "predict, 1,000 reviews": 0.36,
    "serve until /health/ready": 0.36,
}
SECOND_RUN_SECONDS = 30.0
PARTS = ("run", "test", "commands")


def user_env(clone: Path) -> dict[str, str]:
    """A user's environment: none of the project's, MLflow's or Prefect's variables, so every
    store is the default one under the clone's ``.sentimentops``."""
    ours = ("SENTIMENTOPS_", "MLFLOW_", "PREFECT_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env["COLUMNS"] = "200"
    env["SENTIMENTOPS_HOME"] = str(clone / ".sentimentops")
    return env


def fresh_clone(scratch: Path, name: str) -> Path:
    target = scratch / name
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    return target


def timed(command: list[str], cwd: Path, log: Path, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    with log.open("w") as output:
        completed = subprocess.run(
            command, cwd=cwd, env=user_env(cwd), stdout=output, stderr=subprocess.STDOUT
        )
    seconds = time.perf_counter() - started
    if completed.returncode not in ok:
        raise RuntimeError(f"{' '.join(command)} exited {completed.returncode}: see {log}")
    return seconds


def main_job_steps(log: Path) -> dict[str, float]:
    """The step times the main job's summary prints (``step  seconds`` rows)."""
    steps = {}
    for line in log.read_text().splitlines():
        if match := re.match(r"^\s*│?\s*(\w[\w ,+-]*?)\s*│\s*([\d.]+) s\s*│", line):
            steps[match.group(1)] = float(match.group(2))
    return steps


def bench_run(scratch: Path, repeat: int) -> tuple[list[float], list[float], list[dict], Path]:
    firsts, seconds_runs, steps = [], [], []
    first_clone = None
    for attempt in range(repeat):
        clone = fresh_clone(scratch, f"run-{attempt}")
        first_clone = first_clone or clone
        log = scratch / f"run-{attempt}-first.log"
        firsts.append(timed(["make", "run"], clone, log, ok=(0, 2, 3)))
        steps.append(main_job_steps(log))
        seconds_runs.append(
            timed(["make", "run"], clone, scratch / f"run-{attempt}-second.log", ok=(0, 3))
        )
        print(f"make run: {firsts[-1]:.0f} s, then {seconds_runs[-1]:.0f} s", flush=True)
    assert first_clone is not None
    return firsts, seconds_runs, steps, first_clone


def bench_test(scratch: Path, repeat: int) -> tuple[list[float], str]:
    runs, durations = [], ""
    for attempt in range(repeat):
        clone = fresh_clone(scratch, f"test-{attempt}")
        log = scratch / f"test-{attempt}.log"
        runs.append(timed(["make", "test", "PYTEST_ARGS=--durations=25"], clone, log))
        text = log.read_text()
        durations = text[text.find("slowest 25 durations") :].split("\n=")[0]
        print(f"make test: {runs[-1]:.0f} s", flush=True)
    return runs, durations


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_until_ready(clone: Path, log: Path) -> float:
    port = free_port()
    command = [str(clone / ".venv/bin/sentimentops"), "serve", "--port", str(port)]
    started = time.perf_counter()
    with log.open("w") as output:
        server = subprocess.Popen(
            command, cwd=clone, env=user_env(clone), stdout=output, stderr=subprocess.STDOUT
        )
        try:
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"serve exited {server.returncode}: see {log}")
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/health/ready", timeout=1
                    ) as answer:
                        if answer.status == 200:
                            return time.perf_counter() - started
                except OSError:
                    time.sleep(0.05)
        finally:
            server.terminate()
            server.wait(30)


def bench_commands(clone: Path, scratch: Path, repeat: int) -> dict[str, list[float]]:
    reviews = pd.read_parquet(DATA)
    sample = reviews[reviews["split"] == "test"].sample(1_000, random_state=11)
    labelled = scratch / "labelled-1000.csv"
    sample[["review", "sentiment"]].to_csv(labelled, index=False)
    cli = str(clone / ".venv/bin/sentimentops")
    runs: dict[str, list[float]] = {name: [] for name in list(GOALS)[2:]}
    for attempt in range(repeat):
        runs["monitor --current, 1,000 labelled reviews"].append(
            timed([cli, "monitor", "--current", str(labelled)], clone,
                  scratch / f"monitor-{attempt}.log", ok=(0, 3))
        )  # fmt: skip
        runs["predict, 1,000 reviews"].append(
            timed([cli, "predict", str(labelled), str(scratch / f"scored-{attempt}.csv")], clone,
                  scratch / f"predict-{attempt}.log")
        )  # fmt: skip
        runs["serve until /health/ready"].append(
            serve_until_ready(clone, scratch / f"serve-{attempt}.log")
        )
        print({name: round(values[-1], 1) for name, values in runs.items()}, flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(PARTS), help="run,test,commands")
    parser.add_argument("--keep", type=Path, help="keep clones and logs in this folder")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if "commands" in parts and "run" not in parts:
        parser.error("commands need the champion of a fresh clone's make run: add run")

    calibration: Calibration = calibrate(args.repeat)
    print(calibration.describe(), flush=True)
    results: dict[str, Any] = {"calibration": calibration.to_dict(), "figures": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as temporary:
        scratch = args.keep or Path(temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        figures: dict[str, list[float]] = {}
        if "run" in parts:
            first, second, steps, clone = bench_run(scratch, args.repeat)
            figures["make run, first (fresh clone, install included)"] = first
            figures["make run, second (same clone)"] = second
            results["main_job_steps"] = steps
        if "test" in parts:
            figures["make test (fresh clone, install included)"], results["slowest_tests"] = (
                bench_test(scratch, args.repeat)
            )
        if "commands" in parts:
            figures.update(bench_commands(clone, scratch, args.repeat))
    for name, values in figures.items():
        goal = GOALS.get(name)
        if goal is not None:
            met = calibration.multiple(sorted(values)[len(values) // 2]) <= goal
            text = f"<= {goal}x: {'met' if met else 'NOT met'}"
        else:
            met = max(values) < SECOND_RUN_SECONDS
            text = f"< {SECOND_RUN_SECONDS:.0f} s: {'met' if met else 'NOT met'}"
        results["figures"][name] = calibration.figure(values) | {"goal": text, "met": met}
        rows.append(table_row(name, values, calibration, text))

    out = REPO / "benchmarks" / "results" / "speed.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{calibration.describe()}\n")
    print("| figure | wall time, median (spread) | x calibration | goal |")
    print("| --- | ---: | ---: | --- |")
    print("\n".join(rows))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
