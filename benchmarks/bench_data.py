"""Benchmark of the data layer on the vendored 50k IMDB reviews: throughput and peak memory.

Each stage runs in a fresh subprocess so its peak RSS is its own, ``--repeat`` times in it; the
table gives the median wall time with its spread, in seconds and as a multiple of the machine
calibration measured first, and rows/s per second and per calibration. Run with
``make bench-data``; results also go to ``benchmarks/results/data.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from calibration import DATA, Calibration, markdown_table, number
from measure import benchmark_parser, calibrate_first, write_results

STAGES = ("load_parquet", "load_kaggle_csv_gz", "validate", "split_random", "split_official")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(stage: str, repeat: int, csv_path: Path) -> dict[str, Any]:
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
    return {
        "rows": rows,
        "seconds": timings,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_before_mib": round(baseline, 1),
    }


def measure_stages(repeat: int) -> dict[str, dict[str, Any]]:
    import pandas as pd

    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "IMDB Dataset.csv.gz"
        frame = pd.read_parquet(DATA)[["review", "sentiment"]].sample(frac=1.0, random_state=1)
        with gzip.open(csv_path, "wt", encoding="utf-8", newline="") as stream:
            frame.to_csv(stream, index=False)
        results = {}
        for stage in STAGES:
            command = [sys.executable, __file__, "--stage", stage, "--repeat", str(repeat)]
            output = subprocess.run(
                [*command, "--csv", str(csv_path)], check=True, capture_output=True, text=True
            ).stdout
            results[stage] = json.loads(output)
    return results


def report(results: dict[str, dict[str, Any]], calibration: Calibration) -> dict[str, Any]:
    """Each stage's figures in seconds, multiples, rows/s and per calibration; prints the table."""
    rows, figures = [], {}
    for stage, result in results.items():
        seconds = result["seconds"]
        rates = [result["rows"] / value for value in seconds]
        figures[stage] = {
            "rows": result["rows"],
            "wall": calibration.figure(seconds),
            "throughput": calibration.rate(rates),
            "peak_rss_mib": result["peak_rss_mib"],
            "rss_before_mib": result["rss_before_mib"],
        }
        rows.append(
            [
                stage,
                f"{result['rows']:,}",
                *calibration.time_cells(seconds),
                *calibration.rate_cells(rates),
                number(result["peak_rss_mib"]),
            ]
        )
    header = ["stage", "rows", "wall time", "x calibration", "rows/s", "rows per calibration"]
    print(f"\n{calibration.describe()}\n")
    print(markdown_table([*header, "peak RSS (MiB)"], rows, "lrrrrrr"))
    return figures


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage (median)")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # a child's stage
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:  # child process: one stage, JSON on stdout
        print(json.dumps(run_stage(args.stage, args.repeat, args.csv)))
        return

    calibration = calibrate_first(args.calibration_runs)
    figures = report(measure_stages(args.repeat), calibration)
    write_results("data.json", {"repeat": args.repeat, "stages": figures}, calibration)


if __name__ == "__main__":
    main()
