"""Benchmark of a full training on 2 cores: wall time, peak memory and the champion's accuracy.

Runs ``sentimentops train --split official`` as a user would, ``--repeat`` times, each in a
fresh SENTIMENTOPS_HOME, then reads each registered champion's metrics back from MLflow. The
wall time is the median with its spread, in seconds and as a multiple of the machine
calibration measured first. Run with ``make bench-train``; results also go to
``benchmarks/results/train-official.json``. ``--sample N --models logreg`` is a quick check of
the harness, not a figure.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
from pathlib import Path
from typing import Any

from calibration import Calibration, markdown_table, number
from measure import CLI, benchmark_parser, calibrate_first, timed, user_env, write_results

PUBLISHED = {
    "Maas et al. 2011": 0.8889,
    "NBSVM bigram (Wang & Manning 2012)": 0.9122,
    "NBSVM uni+bi+trigram (Mesnil et al. 2014)": 0.9187,
    "seq2-bown-CNN (Johnson & Zhang 2015)": 0.9233,
}
# The former goal, "under 10 minutes", at the calibration of the project's 2-core machine when it
# was restated (15.8 s, 2026-12-04): 600 / 15.8.
GOAL_MULTIPLE = 38.0


def champion_metrics(home: Path) -> dict[str, Any]:
    """The registered champion's family and test metrics in the default store under ``home``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{home}/mlflow.db")
    champion = client.get_model_version_by_alias("imdb-sentiment", "champion")
    run = client.get_run(champion.run_id).data
    metrics = run.metrics
    return {
        "family": run.tags["chosen_family"],
        "test_accuracy": metrics["test_accuracy"],
        "test_accuracy_ci": [metrics["test_accuracy_ci_low"], metrics["test_accuracy_ci_high"]],
        "test_f1": metrics["test_f1"],
        "test_roc_auc": metrics["test_roc_auc"],
        "test_ece": metrics["test_ece"],
    }


def report(
    walls: list[float], peak_mib: float, champions: list[dict[str, Any]], calibration: Calibration
) -> str:
    median = statistics.median(walls)
    met = calibration.multiple(median) <= GOAL_MULTIPLE
    rows = [
        [
            "wall time, whole search",
            *calibration.time_cells(walls),
            f"<= {GOAL_MULTIPLE:g}x: {'met' if met else '**NOT met**'}",
        ],
        ["peak RSS (largest process of any run)", f"{number(peak_mib)} MiB", "", ""],
    ]
    first = champions[0]
    accuracies = sorted({f"{champion['test_accuracy']:.4f}" for champion in champions})
    low, high = first["test_accuracy_ci"]
    rows.append(
        [
            f"champion ({first['family']}) test accuracy",
            f"{', '.join(accuracies)} (95% CI {low:.4f}-{high:.4f})",
            "",
            "",
        ]
    )
    for name, accuracy in PUBLISHED.items():
        beaten = first["test_accuracy"] > accuracy
        rows.append([f"vs {name} {accuracy:.2%}", "beaten" if beaten else "not beaten", "", ""])
    header = ["measure", "result", "x calibration", "goal"]
    return markdown_table(header, rows, "lrrl")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("split", nargs="?", default="official", choices=("official", "random"))
    parser.add_argument("--repeat", type=int, default=3, help="trainings (median)")
    parser.add_argument("--sample", type=int, help="train on N rows (a quick check)")
    parser.add_argument("--models", help="families, comma-separated (default: the config's)")
    args = parser.parse_args()

    calibration = calibrate_first(args.calibration_runs)
    command = ["train", "--split", args.split]
    command += ["--sample", str(args.sample)] if args.sample else []
    command += ["--models", args.models] if args.models else []
    walls = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        homes = [Path(scratch) / f"home-{attempt}" for attempt in range(args.repeat)]
        for home in homes:
            walls.append(timed([CLI, *command], home.with_suffix(".log"), env=user_env(home)))
            print(f"sentimentops {' '.join(command)}: {walls[-1]:.0f} s", flush=True)
        # Peak of the largest process of any training, read before this process imports MLflow.
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        champions = [champion_metrics(home) for home in homes]

    print(f"\n{calibration.describe()}\n")
    print(report(walls, peak_mib, champions, calibration))
    results = {
        "command": " ".join(["sentimentops", *command]),
        "wall": calibration.figure(walls),
        "goal_multiple": GOAL_MULTIPLE,
        "peak_rss_mib": round(peak_mib),
        "champions": champions,
    }
    write_results(f"train-{args.split}.json", results, calibration)


if __name__ == "__main__":
    main()
