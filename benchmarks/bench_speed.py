"""What a user meets, timed the way they meet it: fresh clones, fresh processes, wall time.

1. ``make run`` on fresh clones of this repository (install included), then once more in the
   same clone (what is unchanged is reused), with what each run trained, reused and monitored
   (read from the main job's summary);
2. ``make test`` on fresh clones (install included), with the slowest 25 tests;
3. cold commands, each a whole process: ``monitor --current`` on 1,000 labelled reviews,
   ``predict`` on 1,000 reviews, and ``serve`` until ``/health/ready`` answers 200, against the
   champion the first clone's ``make run`` trained.

Every figure is the median of ``--repeat`` runs with its spread, in seconds and as a multiple
of the machine calibration (``calibration.py``) measured in the same run. A clone is of the
committed HEAD: uncommitted changes are not measured. Nothing is warmed but the uv package
cache that every install on this machine shares (a first install elsewhere also downloads).

Run with ``make bench-speed`` (about an hour: ``--only run,commands`` skips the test suites;
``make bench-run`` is ``--only run``); results go to ``benchmarks/results/speed.json`` (or
``speed-PARTS.json`` for ``--only PARTS``) and BENCHMARKS.md. ``--models logreg --repeat 1`` is
a quick check of the harness, not a figure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
from calibration import DATA, REPO, Calibration, markdown_table, table_row
from measure import benchmark_parser, calibrate_first, timed, user_env, write_results

sys.path.insert(0, str(REPO))  # the test helpers start and probe servers the same way
from tests.servers import free_port

GOALS = {
    "make run, first (fresh clone, install included)": 25.0,
    "make test (fresh clone, install included)": 30.0,
    "monitor --current, 1,000 labelled reviews": 0.6,
    "predict, 1,000 reviews": 0.36,
    "serve until /health/ready": 0.36,
}
SECOND_RUN_SECONDS = 30.0
PARTS = ("run", "test", "commands")


def fresh_clone(scratch: Path, name: str) -> Path:
    target = scratch / name
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    return target


def in_clone(
    command: list[str], clone: Path, log: Path, ok: tuple[int, ...] = (0,), **settings: str
) -> float:
    """Wall seconds of ``command`` run in ``clone`` as its user would, plus ``settings``."""
    env = user_env(clone / ".sentimentops", settings)
    return timed(command, log, cwd=clone, env=env, ok=ok)


def main_job_summary(log: Path) -> dict[str, Any]:
    """What the main job's summary printed: the step times (``step  seconds`` rows), and what
    was trained, what monitoring said and what was reused."""
    text = log.read_text()
    steps = {
        match.group(1): float(match.group(2))
        for match in re.finditer(r"(?m)^\s*│?\s*(\w[\w ,+-]*?)\s*│\s*([\d.]+) s\s*│", text)
    }
    rows = {
        match.group(1).lower(): match.group(2)
        for match in re.finditer(r"(?m)^\s*│\s*(Trained|Monitoring|Reused)\s*│\s*(.*?)\s*│", text)
    }
    return {"steps": steps, **rows}


def bench_run(
    scratch: Path, repeat: int, settings: dict[str, str]
) -> tuple[list[float], list[float], list[dict[str, Any]], Path]:
    firsts, seconds_runs, summaries = [], [], []
    first_clone = None
    for attempt in range(repeat):
        clone = fresh_clone(scratch, f"run-{attempt}")
        first_clone = first_clone or clone
        logs = [scratch / f"run-{attempt}-{which}.log" for which in ("first", "second")]
        firsts.append(in_clone(["make", "run"], clone, logs[0], ok=(0, 2, 3), **settings))
        seconds_runs.append(in_clone(["make", "run"], clone, logs[1], ok=(0, 3), **settings))
        summaries.append({"first": main_job_summary(logs[0]), "second": main_job_summary(logs[1])})
        print(f"make run: {firsts[-1]:.0f} s, then {seconds_runs[-1]:.0f} s", flush=True)
    assert first_clone is not None
    return firsts, seconds_runs, summaries, first_clone


def bench_test(scratch: Path, repeat: int) -> tuple[list[float], str]:
    runs, durations = [], ""
    for attempt in range(repeat):
        clone = fresh_clone(scratch, f"test-{attempt}")
        log = scratch / f"test-{attempt}.log"
        runs.append(in_clone(["make", "test", "PYTEST_ARGS=--durations=25"], clone, log))
        text = log.read_text()
        durations = text[text.find("slowest 25 durations") :].split("\n=")[0]
        print(f"make test: {runs[-1]:.0f} s", flush=True)
    return runs, durations


def serve_until_ready(clone: Path, log: Path) -> float:
    port = free_port()
    command = [str(clone / ".venv/bin/sentimentops"), "serve", "--port", str(port)]
    started = time.perf_counter()
    with log.open("w") as output:
        server = subprocess.Popen(
            command,
            cwd=clone,
            env=user_env(clone / ".sentimentops"),
            stdout=output,
            stderr=subprocess.STDOUT,
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
            in_clone([cli, "monitor", "--current", str(labelled)], clone,
                     scratch / f"monitor-{attempt}.log", ok=(0, 3))
        )  # fmt: skip
        runs["predict, 1,000 reviews"].append(
            in_clone([cli, "predict", str(labelled), str(scratch / f"scored-{attempt}.csv")],
                     clone, scratch / f"predict-{attempt}.log")
        )  # fmt: skip
        runs["serve until /health/ready"].append(
            serve_until_ready(clone, scratch / f"serve-{attempt}.log")
        )
        print({name: round(values[-1], 1) for name, values in runs.items()}, flush=True)
    return runs


def main_job_table(summaries: list[dict[str, Any]]) -> str:
    """What each make run trained, reused and monitored (its time is in the table above)."""
    rows = [
        [f"clone {attempt + 1}, {which}", run.get("trained", "?"), run.get("reused", "?"),
         run.get("monitoring", "?")]
        for attempt, summary in enumerate(summaries)
        for which, run in summary.items()
    ]  # fmt: skip
    return markdown_table(["make run", "trained", "reused", "monitoring"], rows, "llll")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(PARTS), help="run,test,commands")
    parser.add_argument("--keep", type=Path, help="keep clones and logs in this folder")
    parser.add_argument("--models", help="families make run trains (default: the config's)")
    parser.add_argument(
        "--clone", type=Path, help="commands against this clone's champion (make run done there)"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if "commands" in parts and "run" not in parts and args.clone is None:
        parser.error("commands need a champion: add run (a fresh clone's make run) or --clone")
    clone = args.clone.resolve() if args.clone else None

    calibration: Calibration = calibrate_first(args.calibration_runs)
    settings = (
        {"SENTIMENTOPS_TRAINING__MODELS": json.dumps(args.models.split(","))} if args.models else {}
    )
    results: dict[str, Any] = {"figures": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as temporary:
        scratch = args.keep or Path(temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        figures: dict[str, list[float]] = {}
        if "run" in parts:
            first, second, summaries, clone = bench_run(scratch, args.repeat, settings)
            figures["make run, first (fresh clone, install included)"] = first
            figures["make run, second (same clone)"] = second
            results["main_job"] = summaries
        if "test" in parts:
            figures["make test (fresh clone, install included)"], results["slowest_tests"] = (
                bench_test(scratch, args.repeat)
            )
        if "commands" in parts:
            assert clone is not None
            figures.update(bench_commands(clone, scratch, args.repeat))
    for name, values in figures.items():
        goal = GOALS.get(name)
        if goal is not None:
            met = calibration.multiple(sorted(values)[len(values) // 2]) <= goal
            text = f"<= {goal:g}x: {'met' if met else 'NOT met'}"
        else:
            met = max(values) < SECOND_RUN_SECONDS
            text = f"< {SECOND_RUN_SECONDS:.0f} s, absolute: {'met' if met else 'NOT met'}"
        results["figures"][name] = calibration.figure(values) | {"goal": text, "met": met}
        rows.append(table_row(name, values, calibration, text))

    print(f"\n{calibration.describe()}\n")
    print("| figure | wall time, median (spread) | x calibration | goal |")
    print("| --- | ---: | ---: | --- |")
    print("\n".join(rows))
    if "main_job" in results:
        print("\n" + main_job_table(results["main_job"]))
    name = "speed.json" if parts == set(PARTS) else f"speed-{'-'.join(sorted(parts))}.json"
    write_results(name, results, calibration)


if __name__ == "__main__":
    main()
