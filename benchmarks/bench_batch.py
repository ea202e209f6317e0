"""Benchmark of batch prediction: overhead against raw predict_proba, Dask scaling, memory.

1. Fits the champion configuration (NB-weighted logistic regression, word 1-3-grams, C=30) on
   the official train half and saves it as a model folder (``--model FOLDER`` reuses one).
2. Raw throughput: ``pipeline.predict_proba`` on the 25k official test reviews, in memory.
3. ``sentimentops predict`` on the same reviews as CSV: local engine, Dask with 1 and with 2
   workers (rows/s from each run's summary; model loading and cluster start not counted).
   Steps 2 and 3 run in ``--rounds`` rounds (3); the table gives medians with their spread,
   rates per second and per calibration (the machine calibration measured first).
4. Peak memory of ``sentimentops predict`` on a 1,000,000-row CSV (the test reviews repeated),
   as the largest process's max RSS, in one run. ``--skip-million`` leaves this out.
All in one run, side by side. Results go to benchmarks/results/batch.json.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from calibration import Calibration, cell, markdown_table, number, spread
from champion import champion_folder, load_champion, official_split
from measure import CLI, benchmark_parser, calibrate_first, peak_of, write_results

ENGINES = {
    "local": ["--engine", "local"],
    "dask_1_worker": ["--engine", "dask", "--workers", "1"],
    "dask_2_workers": ["--engine", "dask", "--workers", "2"],
}
LOCAL_VS_RAW_GOAL = 0.90
DASK_2_VS_1_GOAL = 1.7
MILLION_PEAK_GOAL_MIB = 1536


def predict(source: Path, output: Path, model: Path, *extra: str) -> tuple[dict[str, Any], float]:
    """Run the CLI; returns its summary and its peak RSS in MiB."""
    command = [CLI, "predict", str(source), str(output), "--model", str(model), *extra]
    log = output.with_name(output.name + ".log")
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        peak_mib = peak_of(process)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{log.read_text()}")
    summary = json.loads(output.with_name(output.name + ".summary.json").read_text())
    return summary, peak_mib


def measure_rounds(pipeline: Any, texts: list[str], source: Path, model: Path, rounds: int) -> Any:
    """Rows/s of every measurement, back to back, in each round.

    Ratios are taken within a round, so a noisy moment on a shared machine skews one round, not
    one side of a ratio.
    """
    measured: list[dict[str, float]] = []
    for _ in range(rounds):
        started = time.perf_counter()
        pipeline.predict_proba(texts)
        round_ = {"raw_predict_proba": len(texts) / (time.perf_counter() - started)}
        for name, extra in ENGINES.items():
            summary, _ = predict(source, source.with_name(f"{name}.csv"), model, *extra)
            round_[name] = summary["rows_per_second"]
        measured.append(round_)
        print({name: round(rate) for name, rate in round_.items()}, flush=True)
    return measured


def measure_million(test: Any, folder: Path, model: Path) -> dict[str, Any]:
    million = folder / "million.csv"
    repeated = test[["review"]].loc[test.index.repeat(40)].reset_index(drop=True)
    repeated.to_csv(million, index_label="id")
    del repeated
    summary, peak = predict(million, folder / "million-out.csv", model)
    return {
        "rows": summary["rows_in"],
        "rows_per_second": summary["rows_per_second"],
        "peak_rss_mib": round(peak),
        "input_mib": round(million.stat().st_size / 2**20),
    }


def report(
    rounds: list[dict[str, float]], million: dict[str, Any] | None, calibration: Calibration
) -> dict[str, Any]:
    """The figures for the JSON; prints the table."""
    local_vs_raw = [r["local"] / r["raw_predict_proba"] for r in rounds]
    dask_2_vs_1 = [r["dask_2_workers"] / r["dask_1_worker"] for r in rounds]
    ratios = {
        "local": (" of raw", local_vs_raw, LOCAL_VS_RAW_GOAL),
        "dask_2_workers": (" x 1 worker", dask_2_vs_1, DASK_2_VS_1_GOAL),
    }
    rows, figures = [], {}
    for name in ["raw_predict_proba", *ENGINES]:
        rates = [r[name] for r in rounds]
        figures[name] = calibration.rate(rates)
        ratio, verdict = "", ""
        if name in ratios:
            of, values, goal = ratios[name]
            ratio = f"{cell(values)}{of}"
            met = median(values) >= goal
            verdict = f">= {goal:g}{of}: {'met' if met else '**NOT met**'}"
        rows.append([name, *calibration.rate_cells(rates), ratio, verdict])
    figures["local_vs_raw"] = spread(local_vs_raw)
    figures["dask_2_vs_1"] = spread(dask_2_vs_1)
    if million:
        figures["million"] = million
        met = million["peak_rss_mib"] < MILLION_PEAK_GOAL_MIB
        rows.append(
            [
                f"1,000,000 rows ({million['input_mib']:,} MiB CSV), local engine, one run: "
                "peak memory",
                *calibration.rate_cells([million["rows_per_second"]]),
                f"{number(million['peak_rss_mib'])} MiB",
                f"< {MILLION_PEAK_GOAL_MIB:,} MiB: {'met' if met else '**NOT met**'}",
            ]
        )
    header = ["measure", "rows/s", "rows per calibration", "ratio (median of rounds)", "goal"]
    print(f"\n{calibration.describe()}\n")
    print(markdown_table(header, rows, "lrrrl"))
    return figures


def main() -> None:
    parser = benchmark_parser(__doc__, model=True)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 25k measurements")
    args = parser.parse_args()

    calibration = calibrate_first(args.calibration_runs)
    _, test = official_split()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        folder = Path(scratch)
        model = champion_folder(args.model, folder)
        source = folder / "test.csv"
        test[["review_id", "review"]].rename(columns={"review_id": "id"}).to_csv(
            source, index=False
        )
        pipeline = load_champion(model)
        rounds = measure_rounds(pipeline, test["review"].tolist(), source, model, args.rounds)
        del pipeline
        million = None if args.skip_million else measure_million(test, folder, model)

    figures = report(rounds, million, calibration)
    per_round = [{name: round(rate) for name, rate in r.items()} for r in rounds]
    results = {"rows": len(test), "figures": figures, "rounds": per_round}
    write_results("batch.json", results, calibration)


if __name__ == "__main__":
    main()
