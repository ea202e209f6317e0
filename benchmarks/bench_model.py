"""What the model alone costs, the floor under serving latency and batch scaling.

1. Scoring latency of the champion configuration by batch size (1, 4, 16, 64 random official
   test reviews per call, 3 s each), through `positive_scores` (the project's path: the linear
   scorer) and through scikit-learn's `predict_proba` on the same pipeline, the two calls
   alternating on the same reviews so that both see the same machine.
2. The machine's parallel ceiling: `positive_scores` throughput of one process on 10,000 test
   reviews in 5,000-row calls, then of two such processes at once (their sum), which is what
   two Dask workers could reach at most.
3. What a full garbage collection costs with the model loaded, before and after
   ``gc.freeze()`` (the API freezes after each load).
4. The saved model: size on disk, and the time and peak memory (the process's VmHWM) of
   loading it in a fresh process (best of two), with and without the imports.
Results go to benchmarks/results/model.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from champion import REPO, fit_champion, official_split, save_champion

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
    data = REPO / "data" / "imdb" / "imdb_reviews.parquet"
    running = [
        subprocess.Popen(
            [sys.executable, "-c", THROUGHPUT, str(model), str(data)],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="a saved champion-config folder (no fitting)")
    args = parser.parse_args()

    train, test = official_split()
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch:
        model = args.model or save_champion(fit_champion(train), Path(scratch) / "model")
        results = measure(model, test["review"].tolist())
    print(json.dumps(results, indent=2))
    out = REPO / "benchmarks" / "results" / "model.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


def full_collection_ms() -> dict[str, float]:
    """What one full garbage collection costs in this process (the model loaded, the tracking
    libraries imported), before and after ``gc.freeze()``, which the API calls after a load:
    a full collection stops every request in flight for that long."""
    import gc

    def best_of_three() -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            gc.collect()
            times.append(time.perf_counter() - started)
        return round(min(times) * 1000, 1)

    before = best_of_three()
    gc.freeze()
    after = best_of_three()
    gc.unfreeze()
    return {"full_collection_ms": before, "full_collection_ms_frozen": after}


def measure(model: Path, texts: list[str]) -> dict[str, Any]:
    from sentimentops.tracking.flavor import load_pipeline

    pipeline: Any = load_pipeline(str(model))
    rng = random.Random(0)
    results: dict[str, Any] = {}
    for size in (1, 4, 16, 64):
        spent = {"positive_scores": 0.0, "predict_proba": 0.0}
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < 3:
            batch = rng.sample(texts, size)
            for name in spent:
                began = time.perf_counter()
                getattr(pipeline, name)(batch)
                spent[name] += time.perf_counter() - began
            calls += 1
        results[f"ms_per_call_{size}"] = round(spent["positive_scores"] / calls * 1000, 2)
        results[f"sklearn_ms_per_call_{size}"] = round(spent["predict_proba"] / calls * 1000, 2)
    results |= full_collection_ms()
    one = throughputs(model, 1)
    two = throughputs(model, 2)
    results["one_process_rows_per_s"] = round(one[0])
    results["two_processes_rows_per_s"] = [round(value) for value in two]
    results["parallel_ceiling"] = round(sum(two) / one[0], 2)
    results["model_mib_on_disk"] = round(
        sum(f.stat().st_size for f in model.rglob("*") if f.is_file()) / 2**20, 1
    )
    runs = [
        [
            float(value)
            for value in subprocess.run(
                [sys.executable, "-c", LOAD, str(model)], capture_output=True, text=True, check=True
            ).stdout.split()
        ]
        for _ in range(2)
    ]
    shipped = min(runs, key=lambda run: run[1])
    results["load_seconds_with_imports"] = round(shipped[0], 2)
    results["load_seconds_without_imports"] = round(shipped[1], 2)
    results["load_peak_rss_mib"] = int(shipped[2])
    return results


if __name__ == "__main__":
    main()
