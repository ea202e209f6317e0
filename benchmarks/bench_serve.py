"""Benchmark of the prediction API against ``mlflow models serve``, side by side.

0. Measures the machine calibration (calibration.py).
1. Fits the champion configuration (see champion.py) and saves it as one model folder
   (``--model FOLDER`` reuses one).
2. Starts ``sentimentops serve --model FOLDER`` and ``mlflow models serve -m FOLDER
   --env-manager local``, one worker process each, on free ports.
3. For each server and each concurrency (1, 16, 64): a closed-loop load generator (aiohttp, in
   this process) keeps that many requests in flight for ``--seconds``, each one review from the
   official test split, after a warm-up, ``--repeat`` times. Records throughput, p50, p99 and
   errors: the table gives medians with their spread, requests/s also per calibration.

Both servers run on the same machine as the load generator, which takes CPU from them alike.
Results go to benchmarks/results/serve.json and are printed as Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from calibration import REPO, Calibration, cell, goals_table, markdown_table, spread
from champion import champion_folder, official_split
from measure import BIN, benchmark_parser, calibrate_first, write_results

sys.path.insert(0, str(REPO))  # the test helpers start and probe servers the same way
from tests.servers import free_port, wait_for

CONCURRENCIES = (1, 16, 64)
BodyOf = Callable[[str], dict[str, Any]]


async def closed_loop(
    url: str,
    body_of: BodyOf,
    texts: list[str],
    concurrency: int,
    seconds: float,
    warmup: float,
) -> dict[str, float]:
    """``concurrency`` clients, each sending its next request when the last one is answered."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def client(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while (now := time.perf_counter()) < stop_at:
                payload = body_of(rng.choice(texts))
                try:
                    async with session.post(url, json=payload) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if now >= measure_from:
                    latencies.append(time.perf_counter() - now)
                    errors += not ok

        await asyncio.gather(*(client(seed) for seed in range(concurrency)))
    values = np.asarray(latencies)
    return {
        "requests": len(values),
        "rps": round(len(values) / seconds, 1),
        "p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
        "p99_ms": round(float(np.percentile(values, 99)) * 1000, 2),
        "errors": errors,
    }


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def servers(model: Path, workers: int) -> dict[str, tuple[list[str], str, str, BodyOf]]:
    """Per server: its command (the port follows), health path, predict path, request body."""
    workers_port, local = ["--workers", str(workers), "--port"], ["--env-manager", "local"]
    return {
        "sentimentops": (
            [str(BIN / "sentimentops"), "serve", "--model", str(model), *workers_port],
            "/health/ready",
            "/v1/predict",
            lambda text: {"text": text},
        ),
        "mlflow models serve": (
            [str(BIN / "mlflow"), "models", "serve", "-m", str(model), *local, *workers_port],
            "/ping",
            "/invocations",
            lambda text: {"dataframe_records": [{"review": text}]},
        ),
    }


def measure(args: argparse.Namespace, texts: list[str], folder: Path) -> dict[str, list[Any]]:
    """Each server's runs at each concurrency: ``{"SERVER c=N": [run, ...]}``."""
    model = champion_folder(args.model, folder)
    # mlflow models serve runs `uvicorn` from PATH: the venv's bin must be on it.
    env = os.environ | {
        "SENTIMENTOPS_HOME": str(folder / "home"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    runs: dict[str, list[Any]] = {}
    for name, (command, health, path, body_of) in servers(model, args.workers).items():
        port = free_port()
        process = start([*command, str(port)], env, folder / f"{name.split()[0]}.log")
        try:
            wait_for(f"http://127.0.0.1:{port}{health}", process, timeout=300)
            for concurrency, _ in itertools.product(CONCURRENCIES, range(args.repeat)):
                measured = asyncio.run(
                    closed_loop(
                        f"http://127.0.0.1:{port}{path}",
                        body_of,
                        texts,
                        concurrency,
                        args.seconds,
                        args.warmup,
                    )
                )
                runs.setdefault(f"{name} c={concurrency}", []).append(measured)
                print(name, concurrency, measured, flush=True)
        finally:
            process.terminate()
            process.wait(timeout=60)
    return runs


def figures(runs: dict[str, list[Any]], calibration: Calibration) -> dict[str, Any]:
    """Per server and concurrency: requests/s (and per calibration), p50 and p99 in ms as the
    median and spread of the runs, and all errors."""
    return {
        key: calibration.rate([run["rps"] for run in measured])
        | {
            "p50_ms": spread([run["p50_ms"] for run in measured]),
            "p99_ms": spread([run["p99_ms"] for run in measured]),
            "errors": sum(run["errors"] for run in measured),
            "requests": [run["requests"] for run in measured],
        }
        for key, measured in runs.items()
    }


def goals(results: dict[str, Any]) -> dict[str, Any]:
    """The goals at concurrency 16: against mlflow models serve, and p99 in absolute ms."""
    ours, theirs = results["sentimentops c=16"], results["mlflow models serve c=16"]
    throughput = ours["per_second"]["median"] / theirs["per_second"]["median"]
    our_p99 = ours["p99_ms"]["median"]
    p99 = our_p99 / theirs["p99_ms"]["median"]
    return {
        "throughput_ratio_c16": round(throughput, 2),
        "p99_ratio_c16": round(p99, 3),
        "goals": {
            f"throughput >= 2x mlflow models serve ({throughput:.2f}x)": throughput >= 2,
            f"p99 <= 0.5x of its p99 ({p99:.3f}x)": p99 <= 0.5,
            f"zero errors ({ours['errors']})": ours["errors"] == 0,
            f"p99 < 25 ms, absolute ({our_p99} ms)": our_p99 < 25,
        },
    }


def report(runs: dict[str, list[Any]], calibration: Calibration) -> str:
    rows = []
    for key, measured in runs.items():
        server, level = key.rsplit(" c=", 1)
        rows.append(
            [
                server,
                level,
                *calibration.rate_cells([run["rps"] for run in measured]),
                cell([run["p50_ms"] for run in measured]),
                cell([run["p99_ms"] for run in measured]),
                str(sum(run["errors"] for run in measured)),
            ]
        )
    header = ["server", "concurrency", "requests/s", "requests per calibration"]
    return markdown_table([*header, "p50 ms", "p99 ms", "errors"], rows, "lrrrrrr")


def main() -> None:
    parser = benchmark_parser(__doc__, model=True)
    parser.add_argument("--seconds", type=float, default=20.0, help="of each run, measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="before each run")
    parser.add_argument("--repeat", type=int, default=3, help="runs at each concurrency")
    parser.add_argument("--workers", type=int, default=1, help="Server processes, both servers.")
    args = parser.parse_args()

    calibration = calibrate_first(args.calibration_runs)
    texts = official_split()[1]["review"].tolist()
    # The load generator's own garbage collections would count as server latency: the data
    # loaded so far (pandas, 50k reviews) is frozen out of the collector's walks.
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        runs = measure(args, texts, Path(scratch))

    results = figures(runs, calibration)
    summary = goals(results)
    print(f"\n{calibration.describe()}\n")
    print(report(runs, calibration))
    print("\n" + goals_table(summary["goals"], "goal at concurrency 16"))
    name = "serve.json" if args.workers == 1 else f"serve-{args.workers}-workers.json"
    setup = {"seconds_per_run": args.seconds, "repeat": args.repeat, "workers": args.workers}
    write_results(name, setup | summary | {"levels": results}, calibration)


if __name__ == "__main__":
    main()
