"""What every benchmark shares: the calibration it measures first, the environment a user runs
in, timed commands, a process's peak memory and the results file."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from calibration import REPO, Calibration, calibrate

BIN = Path(sys.executable).parent
CLI = str(BIN / "sentimentops")
RESULTS = REPO / "benchmarks" / "results"


def benchmark_parser(description: str | None, *, model: bool = False) -> argparse.ArgumentParser:
    """A benchmark's options, ``--calibration-runs`` among them (and ``--model`` with ``model``,
    for a benchmark of the champion configuration)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--calibration-runs",
        type=int,
        default=3,
        help="runs of the machine calibration measured first (median taken; default 3)",
    )
    if model:
        parser.add_argument(
            "--model", type=Path, help="a saved champion-configuration folder (skips fitting)"
        )
    return parser


def calibrate_first(runs: int) -> Calibration:
    """The calibration of this machine, now, before anything else of the run."""
    if runs < 1:
        raise SystemExit("--calibration-runs must be at least 1: every figure needs it")
    calibration = calibrate(runs)
    print(calibration.describe(), flush=True)
    return calibration


def user_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A user's environment: none of the project's, MLflow's or Prefect's variables, so every
    store is the default one under ``home`` (Prefect's included)."""
    ours = ("SENTIMENTOPS_", "MLFLOW_", "PREFECT_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return env | {"COLUMNS": "200", "SENTIMENTOPS_HOME": str(home), **(extra or {})}


def timed(
    command: Sequence[str],
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    ok: tuple[int, ...] = (0,),
) -> float:
    """Wall seconds of ``command``, its output in ``log``; raises if it exits with another code
    than ``ok``."""
    started = time.perf_counter()
    with log.open("w") as output:
        completed = subprocess.run(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.perf_counter() - started
    if completed.returncode not in ok:
        raise RuntimeError(f"{' '.join(command)} exited {completed.returncode}: see {log}")
    return seconds


def peak_of(process: subprocess.Popen[Any], period: float = 0.2) -> float:
    """MiB: the process's own high-water mark (VmHWM), read from /proc until it exits.

    Not getrusage/wait4: Linux carries the parent's high-water mark into a child at exec, and a
    benchmark's process may hold gigabytes of data when it starts the command.
    """
    status = Path(f"/proc/{process.pid}/status")
    peak_kib = 0
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib, int(line.split()[1]))
        except OSError:
            pass  # exited between poll() and the read
        time.sleep(period)
    return peak_kib / 1024


def write_results(out: Path | str, results: Mapping[str, Any], calibration: Calibration) -> Path:
    """The results as JSON, the calibration first, in ``out`` (a name: in benchmarks/results)."""
    out = out if isinstance(out, Path) else RESULTS / out
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"calibration": calibration.to_dict(), **results}
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return out
