"""Benchmark of the data layer on the vendored 50k IMDB reviews: throughput and peak memory.

Each stage runs in a fresh subprocess so its peak RSS is its own; wall times are the best of
``--repeat`` runs (the machine is shared and noisy). Run with ``make bench-data``; paste the
table into BENCHMARKS.md. Results also go to ``benchmarks/results/data.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "imdb" / "imdb_reviews.parquet"
STAGES = ("load_parquet", "load_kaggle_csv_gz", "validate", "split_random", "split_official")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(stage: str, repeat: int, csv_path: Path) -> dict[str, float]:
    from sentimentops.config import ValidationSettings
    from sentimentops.data.load import load_reviews
    from sentimentops.data.split import split_official, split_random
    from sentimentops.data.validate import validate_reviews

    baseline = peak_rss_mib()
    frame = load_reviews(DATA) if not stage.startswith("load") else None
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        if stage == "load_parquet":
            rows = len(load_reviews(DATA))
        elif stage == "load_kaggle_csv_gz":
            rows = len(load_reviews(csv_path))
        elif stage == "validate":
            assert frame is not None
            rows = validate_reviews(frame, ValidationSettings()).report.rows
        elif stage == "split_random":
            assert frame is not None
            rows = sum(len(f) for f in split_random(frame, seed=42).frames().values())
        else:
            assert frame is not None
            rows = sum(len(f) for f in split_official(frame, seed=42).frames().values())
        timings.append(time.perf_counter() - start)
    best = min(timings)
    return {
        "rows": rows,
        "best_seconds": round(best, 3),
        "rows_per_second": round(rows / best),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_before_mib": round(baseline, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stage", choices=STAGES)
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()

    if args.stage:  # child process: one stage, JSON on stdout
        print(json.dumps(run_stage(args.stage, args.repeat, args.csv)))
        return

    import pandas as pd

    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "IMDB Dataset.csv.gz"
        frame = pd.read_parquet(DATA)[["review", "sentiment"]].sample(frac=1.0, random_state=1)
        with gzip.open(csv_path, "wt", encoding="utf-8", newline="") as stream:
            frame.to_csv(stream, index=False)
        results = {}
        for stage in STAGES:
            command = [sys.executable, __file__, "--stage", stage, "--repeat", str(args.repeat)]
            output = subprocess.run(
                [*command, "--csv", str(csv_path)], check=True, capture_output=True, text=True
            ).stdout
            results[stage] = json.loads(output)

    print(f"| stage | rows | best of {args.repeat} (s) | rows/s | peak RSS (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for stage, result in results.items():
        print(
            f"| {stage} | {result['rows']:,} | {result['best_seconds']} | "
            f"{result['rows_per_second']:,} | {result['peak_rss_mib']} |"
        )
    out = REPO / "benchmarks" / "results" / "data.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": __import__("os").cpu_count()}
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
