"""Benchmark of the prediction API against ``mlflow models serve``, side by side.

1. Fits the champion configuration (see champion.py) and saves it as one model folder.
2. Starts ``sentimentops serve --model FOLDER`` and ``mlflow models serve -m FOLDER
   --env-manager local``, one worker process each, on free ports.
3. For each server and each concurrency (1, 16, 64): a closed-loop load generator (aiohttp, in
   this process) keeps that many requests in flight for ``--seconds``, each one review from the
   official test split, after a warm-up. Records throughput, p50, p99 and errors.

Both servers run on the same machine as the load generator, which takes CPU from them alike.
Results go to benchmarks/results/serve.json and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from champion import REPO, fit_champion, official_split, save_champion

sys.path.insert(0, str(REPO))  # the test helpers start and probe servers the same way
from tests.servers import free_port, wait_for

BIN = Path(sys.executable).parent
CONCURRENCIES = (1, 16, 64)


async def closed_loop(
    url: str,
    body_of: Callable[[str], dict[str, Any]],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--model", type=Path, help="An existing model folder (skips fitting).")
    parser.add_argument("--workers", type=int, default=1, help="Server processes, both servers.")
    args = parser.parse_args()

    train, test = official_split()
    texts = test["review"].tolist()
    # The load generator's own garbage collections would count as server latency: the data
    # loaded so far (pandas, 50k reviews) is frozen out of the collector's walks.
    gc.freeze()
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "seconds_per_level": args.seconds,
        "workers": args.workers,
    }
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        folder = Path(scratch)
        model = args.model or save_champion(fit_champion(train), folder / "model")
        # mlflow models serve runs `uvicorn` from PATH: the venv's bin must be on it.
        env = os.environ | {
            "SENTIMENTOPS_HOME": str(folder / "home"),
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
        servers = {
            "sentimentops": (
                [
                    str(BIN / "sentimentops"),
                    "serve",
                    "--model",
                    str(model),
                    "--workers",
                    str(args.workers),
                    "--port",
                ],
                "/health/ready",
                "/v1/predict",
                lambda text: {"text": text},
            ),
            "mlflow models serve": (
                [
                    str(BIN / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    str(model),
                    "--env-manager",
                    "local",
                    "--workers",
                    str(args.workers),
                    "--port",
                ],
                "/ping",
                "/invocations",
                lambda text: {"dataframe_records": [{"review": text}]},
            ),
        }
        for name, (command, health, path, body_of) in servers.items():
            port = free_port()
            process = start([*command, str(port)], env, folder / f"{name.split()[0]}.log")
            try:
                wait_for(f"http://127.0.0.1:{port}{health}", process, timeout=300)
                for concurrency in CONCURRENCIES:
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
                    results[f"{name} c={concurrency}"] = measured
                    print(name, concurrency, measured, flush=True)
            finally:
                process.terminate()
                process.wait(timeout=60)

    ours, theirs = results["sentimentops c=16"], results["mlflow models serve c=16"]
    results["throughput_ratio_c16"] = round(ours["rps"] / theirs["rps"], 2)
    results["p99_ratio_c16"] = round(ours["p99_ms"] / theirs["p99_ms"], 3)
    print("| server | concurrency | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key, value in results.items():
        if isinstance(value, dict):
            server, level = key.rsplit(" c=", 1)
            print(
                f"| {server} | {level} | {value['rps']:,} | {value['p50_ms']} | "
                f"{value['p99_ms']} | {value['errors']} |"
            )
    print({k: v for k, v in results.items() if not isinstance(v, dict)})
    name = "serve.json" if args.workers == 1 else f"serve-{args.workers}-workers.json"
    out = REPO / "benchmarks" / "results" / name
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
