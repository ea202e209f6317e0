"""Benchmark of batch prediction: overhead against raw predict_proba, Dask scaling, memory.

1. Fits the champion configuration (NB-weighted logistic regression, word 1-3-grams, C=30) on
   the official train half and saves it as a model folder.
2. Raw throughput: ``pipeline.predict_proba`` on the 25k official test reviews, in memory.
3. ``sentimentops predict`` on the same reviews as CSV: local engine, Dask with 1 and with 2
   workers (rows/s from each run's summary; model loading and cluster start not counted).
4. Peak memory of ``sentimentops predict`` on a 1,000,000-row CSV (the test reviews repeated),
   as the largest process's max RSS. ``--skip-million`` leaves this out.
All in one run, side by side. Results go to benchmarks/results/batch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from champion import REPO, fit_champion, official_split, save_champion

CLI = str(Path(sys.executable).parent / "sentimentops")


def predict(source: Path, output: Path, model: Path, *extra: str) -> tuple[dict[str, float], float]:
    """Run the CLI; returns its summary and its peak RSS in MiB (its own and its children's,
    e.g. Dask workers, measured for this run alone)."""
    command = [CLI, "predict", str(source), str(output), "--model", str(model), *extra]
    log = output.with_name(output.name + ".log")
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{log.read_text()}")
    summary = json.loads(output.with_name(output.name.split(".")[0] + ".summary.json").read_text())
    return summary, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()

    train, test = official_split()
    results: dict[str, object] = {"rows": len(test), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        folder = Path(scratch)
        pipeline: Any = fit_champion(train)
        model = save_champion(pipeline, folder / "model")

        texts = test["review"].tolist()
        raw = []
        for _ in range(2):
            started = time.perf_counter()
            pipeline.predict_proba(texts)
            raw.append(len(texts) / (time.perf_counter() - started))
        results["raw_predict_proba_rows_per_s"] = round(max(raw))

        source = folder / "test.csv"
        test[["review_id", "review"]].rename(columns={"review_id": "id"}).to_csv(
            source, index=False
        )
        runs = {
            "local": ["--engine", "local"],
            "dask_1_worker": ["--engine", "dask", "--workers", "1"],
            "dask_2_workers": ["--engine", "dask", "--workers", "2"],
        }
        for name, extra in runs.items():
            summary, _ = predict(source, folder / f"{name}.csv", model, *extra)
            results[f"{name}_rows_per_s"] = summary["rows_per_second"]
        results["local_vs_raw"] = round(
            float(results["local_rows_per_s"]) / float(results["raw_predict_proba_rows_per_s"]),
            3,  # type: ignore[arg-type]
        )
        results["dask_2_vs_1"] = round(
            float(results["dask_2_workers_rows_per_s"])
            / float(results["dask_1_worker_rows_per_s"]),
            3,  # type: ignore[arg-type]
        )

        if not args.skip_million:
            million = folder / "million.csv"
            repeated = test[["review"]].loc[test.index.repeat(40)].reset_index(drop=True)
            repeated.to_csv(million, index_label="id")
            del repeated
            summary, peak = predict(million, folder / "million-out.csv", model)
            results["million_rows"] = summary["rows_in"]
            results["million_rows_per_s"] = summary["rows_per_second"]
            results["million_peak_rss_mib"] = round(peak)
            results["million_input_mib"] = round(million.stat().st_size / 2**20)

    for key, value in results.items():
        print(f"| {key} | {value} |")
    out = REPO / "benchmarks" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
