"""What the model alone costs, the floor under serving latency and batch scaling.

0. The machine calibration (calibration.py), measured first.
1. Scoring latency of the champion configuration by batch size (1, 4, 16, 64 random official
   test reviews per call, ``--seconds`` each), through `positive_scores` (the project's path:
   the linear scorer) and through scikit-learn's `predict_proba` on the same pipeline, the two
   calls alternating on the same reviews so that both see the same machine.
2. The machine's parallel ceiling: `positive_scores` throughput of one process on 10,000 test
   reviews in 5,000-row calls, then of two such processes at once (their sum), which is what
   two Dask workers could reach at most.
3. What a full garbage collection costs with the model loaded, before and after
   ``gc.freeze()`` (the API freezes after each load).
4. The saved model: size on disk, and the time and peak memory (the process's VmHWM) of
   loading it in a fresh process, with and without the imports.
Each is measured ``--repeat`` times: medians with their spread, times also as multiples of the
calibration and rates per calibration. Results go to benchmarks/results/model.json.
"""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from calibration import DATA, Calibration, cell, markdown_table, spread
from champion import champion_folder, load_champion, official_split
from measure import benchmark_parser, calibrate_first, write_results

THROUGHPUT = """
import sys, time
import pandas as pd
from sentimentops.tracking.flavor import load_pipeline
pipeline = load_pipeline(sys.argv[1])
texts = pd.read_parquet(sys.argv[2]).query("split == 'test'")["review"].tolist()[:10000]
pipeline.positive_scores(texts[:100])
print("ready", flush=True)
sys.stdin.readline()  # start together
started = time.perf_counter()
for start in range(0, len(texts), 5000):
    pipeline.positive_scores(texts[start : start + 5000])
print(len(texts) / (time.perf_counter() - started), flush=True)
"""


LOAD = """
import sys, time
started = time.perf_counter()
from sentimentops.tracking import flavor
import skops.io  # imported by the loader on first use: counted with the imports
imported = time.perf_counter()
flavor.load_pipeline(sys.argv[1])
done = time.perf_counter()
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(done - started, done - imported, int(peak) // 1024)
"""


def throughputs(model: Path, processes: int) -> list[float]:
    """Rows/s of each of ``processes`` processes scoring at the same time."""
    running = [
        subprocess.Popen(
            [sys.executable, "-c", THROUGHPUT, str(model), str(DATA)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for process in running:  # every model loaded before any starts scoring
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError("a scoring process failed to load the model")
    for process in running:
        if process.stdin is not None:
            process.stdin.write("go\n")
            process.stdin.flush()
    return [float(process.communicate()[0].strip()) for process in running]


def latencies_ms(pipeline: Any, texts: list[str], size: int, seconds: float) -> dict[str, float]:
    """Mean ms per call of ``size`` random reviews over ``seconds``, through both paths."""
    rng = random.Random(size)
    spent = {"positive_scores": 0.0, "predict_proba": 0.0}
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = rng.sample(texts, size)
        for name in spent:
            began = time.perf_counter()
            getattr(pipeline, name)(batch)
            spent[name] += time.perf_counter() - began
        calls += 1
    return {name: total / calls * 1000 for name, total in spent.items()}


def full_collection_ms() -> tuple[float, float]:
    """What one full garbage collection costs in this process (the model loaded, the tracking
    libraries imported), before and after ``gc.freeze()``, which the API calls after a load:
    a full collection stops every request in flight for that long."""

    def collection_ms() -> float:
        started = time.perf_counter()
        gc.collect()
        return (time.perf_counter() - started) * 1000

    before = collection_ms()
    gc.freeze()
    after = collection_ms()
    gc.unfreeze()
    return before, after


def load_in_fresh_process(model: Path) -> tuple[float, float, float]:
    """Seconds with the imports, seconds without them, peak MiB."""
    completed = subprocess.run(
        [sys.executable, "-c", LOAD, str(model)], capture_output=True, text=True, check=True
    )
    with_imports, without_imports, peak = completed.stdout.split()
    return float(with_imports), float(without_imports), float(peak)


def measure(model: Path, texts: list[str], repeat: int, seconds: float) -> dict[str, Any]:
    """Every measurement, ``repeat`` times each: lists of values by name."""
    pipeline: Any = load_champion(model)
    runs: dict[str, Any] = {}
    for size in (1, 4, 16, 64):
        calls = [latencies_ms(pipeline, texts, size, seconds) for _ in range(repeat)]
        runs[f"ms_per_call_{size}"] = [call["positive_scores"] for call in calls]
        runs[f"sklearn_ms_per_call_{size}"] = [call["predict_proba"] for call in calls]
    collections = [full_collection_ms() for _ in range(repeat)]
    runs["full_collection_ms"] = [before for before, _ in collections]
    runs["full_collection_ms_frozen"] = [after for _, after in collections]
    del pipeline
    ones = [throughputs(model, 1)[0] for _ in range(repeat)]
    twos = [throughputs(model, 2) for _ in range(repeat)]
    runs["one_process_rows_per_s"] = ones
    runs["two_processes_rows_per_s"] = [sum(two) for two in twos]
    runs["two_processes_each"] = twos
    runs["parallel_ceiling"] = [sum(two) / one for one, two in zip(ones, twos, strict=True)]
    loads = [load_in_fresh_process(model) for _ in range(repeat)]
    runs["load_seconds_with_imports"] = [load[0] for load in loads]
    runs["load_seconds_without_imports"] = [load[1] for load in loads]
    runs["load_peak_rss_mib"] = [load[2] for load in loads]
    return runs


def report(runs: dict[str, Any], model_mib: float, calibration: Calibration) -> dict[str, Any]:
    """The figures for the JSON; prints the table."""
    rows = [
        [
            f"{size} random test reviews per call: `positive_scores` / `predict_proba`",
            f"{cell(runs[f'ms_per_call_{size}'], ' ms')} / "
            f"{cell(runs[f'sklearn_ms_per_call_{size}'], ' ms')}",
            "",
        ]
        for size in (1, 4, 16, 64)
    ]
    before, after = runs["full_collection_ms"], runs["full_collection_ms_frozen"]
    rows += [
        [
            "one full garbage collection, model loaded / after `gc.freeze()`",
            f"{cell(before, ' ms')} / {cell(after, ' ms')}",
            "",
        ],
        [
            "`positive_scores`, one process, 10,000 reviews in 5,000-row calls",
            *calibration.rate_cells(runs["one_process_rows_per_s"]),
        ],
        ["two such processes at the same time, their sum",
         *calibration.rate_cells(runs["two_processes_rows_per_s"])],
        ["parallel ceiling: two processes / one", cell(runs["parallel_ceiling"], "x"), ""],
        ["model folder on disk", f"{model_mib:.1f} MiB", ""],
        [
            "loading it in a fresh process, with the imports",
            *calibration.time_cells(runs["load_seconds_with_imports"]),
        ],
        [
            "the same, without the imports",
            *calibration.time_cells(runs["load_seconds_without_imports"]),
        ],
        ["peak RSS of the load", cell(runs["load_peak_rss_mib"], " MiB"), ""],
    ]  # fmt: skip
    header = ["measure", "result", "x calibration, or per calibration for rates"]
    print(f"\n{calibration.describe()}\n")
    print(markdown_table(header, rows, "lrr"))
    figures: dict[str, Any] = {"model_mib_on_disk": round(model_mib, 1)}
    for name, values in runs.items():
        if name.startswith("load_seconds"):
            figures[name] = calibration.figure(values)
        elif name.endswith("rows_per_s"):
            figures[name] = calibration.rate(values)
        elif name == "two_processes_each":
            figures[name] = [[round(value) for value in two] for two in values]
        else:
            figures[name] = spread(values)
    return figures


def main() -> None:
    parser = benchmark_parser(__doc__, model=True)
    parser.add_argument("--repeat", type=int, default=3, help="runs of every measurement")
    parser.add_argument("--seconds", type=float, default=1.0, help="of each latency run")
    args = parser.parse_args()

    calibration = calibrate_first(args.calibration_runs)
    _, test = official_split()
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch:
        model = champion_folder(args.model, Path(scratch))
        runs = measure(model, test["review"].tolist(), args.repeat, args.seconds)
        model_mib = sum(f.stat().st_size for f in model.rglob("*") if f.is_file()) / 2**20
    figures = report(runs, model_mib, calibration)
    write_results("model.json", {"repeat": args.repeat, "figures": figures}, calibration)


if __name__ == "__main__":
    main()
