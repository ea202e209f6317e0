"""What shadow scoring costs the champion: its p99 with shadow off and on, in the same run.

0. Measures the machine calibration (calibration.py).
1. Fits the champion configuration (champion.py; ``--model FOLDER`` reuses one) and copies it
   as the challenger: a challenger as costly to score as the champion, the worst usual case.
2. Starts two `sentimentops serve` processes (one worker each) on free ports: shadow off
   (``serving.shadow_share`` 0) and shadow on (1: every request queued for the challenger).
   Only one of them is under load at any time.
3. At each concurrency (1, 16), ``--repeat`` times, a closed-loop load generator (the one of
   bench_serve.py) drives the off server, then the on server, for ``--seconds`` after a warm-up.
   The latency is the client's: the champion's answer, which is all a client waits for. From the
   on server's /metrics: how many requests the challenger scored in shadow, and how many were
   dropped because the API was too busy for the queue to drain.

Goal: at concurrency 16, p99 with shadow on at most 1.10x the p99 with shadow off (medians).
Results go to benchmarks/results/shadow.json and are printed as Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_serve import closed_loop, start
from bench_serve import figures as load_figures
from calibration import REPO, Calibration, cell, goals_table, markdown_table, spread
from champion import champion_folder, official_split
from measure import BIN, benchmark_parser, calibrate_first, write_results

sys.path.insert(0, str(REPO))  # the test helpers start and probe servers the same way
from tests.servers import free_port, stop, wait_for

CONCURRENCIES = (1, 16)
MODES = ("shadow off", "shadow on")
GOAL_RATIO = 1.10


def scrape(url: str) -> dict[str, float]:
    """The shadow counters of the server at ``url``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    counts = {"scored": 0.0, "dropped": 0.0, "failed": 0.0}
    for line in text.splitlines():
        for outcome in counts:
            if line.startswith(f'sentimentops_shadow_requests_total{{outcome="{outcome}"}} '):
                counts[outcome] = float(line.rsplit(" ", 1)[1])
    return counts


def wait_for_challenger(url: str) -> None:
    """Until /health/ready says the challenger is in play."""
    for _ in range(600):
        with urllib.request.urlopen(f"{url}/health/ready", timeout=30) as response:
            if (json.loads(response.read()).get("rollout") or {}).get("challenger"):
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url}: no challenger in play")


def measure(args: argparse.Namespace, texts: list[str], folder: Path) -> dict[str, list[Any]]:
    """Runs per mode and concurrency: ``{"shadow on c=16": [run, ...]}``."""
    model = champion_folder(args.model, folder)
    challenger = shutil.copytree(model, folder / "challenger")
    env = os.environ | {"SENTIMENTOPS_SERVING__CHALLENGER_URI": str(challenger)}
    processes: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for mode in MODES:
            port = free_port()
            share = "1" if mode == "shadow on" else "0"
            command = [str(BIN / "sentimentops"), "serve", "--model", str(model)]
            name = mode.replace(" ", "-")
            mode_env = env | {
                "SENTIMENTOPS_SERVING__SHADOW_SHARE": share,
                # Each server its own home, so its own prediction log and spool.
                "SENTIMENTOPS_HOME": str(folder / f"{name}-home"),
            }
            log = folder / f"{name}.log"
            process = start([*command, "--port", str(port)], mode_env, log)
            url = f"http://127.0.0.1:{port}"
            processes[mode] = (process, url)
            wait_for(f"{url}/health/ready", process, timeout=300)
        wait_for_challenger(processes["shadow on"][1])

        runs: dict[str, list[Any]] = {}
        for concurrency, _ in itertools.product(CONCURRENCIES, range(args.repeat)):
            for mode in MODES:
                url = processes[mode][1]
                before = scrape(url)
                measured = asyncio.run(
                    closed_loop(
                        f"{url}/v1/predict",
                        lambda text: {"text": text},
                        texts,
                        concurrency,
                        args.seconds,
                        args.warmup,
                    )
                )
                under_load = scrape(url)
                # Let the shadow queue drain (idle: at full speed) before the next run.
                time.sleep(3.0)
                after = scrape(url)
                shadow = {key: after[key] - before[key] for key in after}
                measured |= {f"shadow_{key}": value for key, value in shadow.items()}
                # Scored while the load lasted (warm-up included), not from the queue after.
                measured["shadow_scored_under_load"] = under_load["scored"] - before["scored"]
                measured["sent"] = round(measured["rps"] * (args.seconds + args.warmup))
                runs.setdefault(f"{mode} c={concurrency}", []).append(measured)
                print(mode, concurrency, measured, flush=True)
    finally:
        for process, _ in processes.values():
            stop(process, timeout=60)
    return runs


def coverage(run: dict[str, Any]) -> float:
    """Share of the run's requests (warm-up included) the challenger scored in shadow, while
    the load lasted or from the queue after it."""
    handled = run["shadow_scored"] + run["shadow_dropped"] + run["shadow_failed"]
    return run["shadow_scored"] / handled if handled else 0.0


def coverage_under_load(run: dict[str, Any]) -> float:
    """Share of the run's requests (about: its rate times its length) scored while it lasted."""
    return min(run["shadow_scored_under_load"] / run["sent"], 1.0) if run["sent"] else 0.0


def figures(runs: dict[str, list[Any]], calibration: Calibration) -> dict[str, Any]:
    """bench_serve.py's figures of each mode and concurrency, with the shadow counts."""
    results = load_figures(runs, calibration)
    for key, measured in runs.items():
        results[key] |= {
            "shadow_scored": [run["shadow_scored"] for run in measured],
            "shadow_dropped": [run["shadow_dropped"] for run in measured],
            "shadow_coverage": spread([coverage(run) for run in measured]),
            "shadow_coverage_under_load": spread([coverage_under_load(run) for run in measured]),
        }
    return results


def goals(results: dict[str, Any]) -> dict[str, Any]:
    off, on = results["shadow off c=16"], results["shadow on c=16"]
    ratio = on["p99_ms"]["median"] / off["p99_ms"]["median"]
    errors = sum(level["errors"] for level in results.values())
    return {
        "p99_ratio_c16": round(ratio, 3),
        "goals": {
            f"p99 with shadow on <= {GOAL_RATIO:.2f}x shadow off at c=16 ({ratio:.3f}x)": (
                ratio <= GOAL_RATIO
            ),
            f"zero errors ({errors})": errors == 0,
        },
    }


def report(runs: dict[str, list[Any]], calibration: Calibration) -> str:
    rows = []
    for key, measured in runs.items():
        mode, level = key.rsplit(" c=", 1)
        scored = [coverage(run) * 100 for run in measured]
        under_load = [coverage_under_load(run) * 100 for run in measured]
        rows.append(
            [
                mode,
                level,
                *calibration.rate_cells([run["rps"] for run in measured]),
                cell([run["p50_ms"] for run in measured]),
                cell([run["p99_ms"] for run in measured]),
                cell(under_load, " %") if mode == "shadow on" else "",
                cell(scored, " %") if mode == "shadow on" else "",
                str(int(sum(run["shadow_dropped"] for run in measured))),
                str(sum(run["errors"] for run in measured)),
            ]
        )
    header = ["server", "concurrency", "requests/s", "requests per calibration", "p50 ms"]
    header += ["p99 ms", "shadow scored under load", "in all (queue drained)"]
    return markdown_table([*header, "shadow dropped", "errors"], rows, "lrrrrrrrrr")


def main() -> None:
    parser = benchmark_parser(__doc__, model=True)
    parser.add_argument("--seconds", type=float, default=15.0, help="of each run, measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="before each run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode and concurrency")
    args = parser.parse_args()

    calibration = calibrate_first(args.calibration_runs)
    texts = official_split()[1]["review"].tolist()
    gc.freeze()  # the load generator's collections would count as server latency
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as scratch:
        runs = measure(args, texts, Path(scratch))

    results = figures(runs, calibration)
    summary = goals(results)
    print(f"\n{calibration.describe()}\n")
    print(report(runs, calibration))
    print("\n" + goals_table(summary["goals"]))
    setup = {"seconds_per_run": args.seconds, "repeat": args.repeat, "workers": 1}
    write_results("shadow.json", setup | summary | {"levels": results}, calibration)


if __name__ == "__main__":
    main()
