"""Calibration of monitoring: false alarms, detection of shifts, the label-free estimate, speed.

0. Measures the machine calibration (calibration.py).
1. Fits the champion configuration on the official train half (champion.py; ``--model FOLDER``
   reuses a saved one). Its reference sample is 5,000 held-out test reviews with labels and
   scores, as training logs it.
2. False alarms: windows of 1,000 other test reviews (same distribution as training); the
   share of windows raising any alert.
3. Detection, per shift, the share of windows raising the alert meant for it:
   - another domain: product, hotel and restaurant reviews generated from templates below;
   - truncated: test reviews cut to their first sentence;
   - unlabelled IMDB: the 50k unlabelled reviews (every rating, neutral ones included);
   - flipped feedback: test windows with 30% of the true labels flipped (accuracy alert).
4. The label-free estimate against real accuracy on every labelled window, per case: mean
   absolute error, the largest error, and how often the 95% interval holds the real accuracy.
5. Speed: a run over 10,000 current against 10,000 reference reviews, ``--repeat`` times: the
   median with its spread, in seconds and as a multiple of the calibration.
6. Memory, measured first (after the calibration): the peak RSS and wall time of
   ``sentimentops monitor --current FILE`` on CSV files of ``--memory-rows`` reviews (10,000,
   100,000 and 400,000), ``--repeat`` runs each, in fresh processes against a champion of
   ``train --sample 1200 --models logreg`` (monitor_memory.py).
Results go to benchmarks/results/monitor.json (steps 2-5) and monitor-memory.json (step 6).
``--skip-detection`` measures the memory alone (no champion configuration fitted),
``--skip-memory`` leaves it out. ``--windows 1 --window-rows 200 --speed-rows 1000 --repeat 1
--memory-rows 1000`` is a quick check of the harness, not a figure.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from calibration import Calibration, table_row
from champion import champion_folder, load_champion, official_split
from measure import benchmark_parser, calibrate_first, write_results
from monitor_memory import measure_memory, memory_table

UNLABELLED = Path(
    os.environ.get("IMDB_UNLABELLED", "/work/shared/data/imdb/imdb_unlabeled.parquet")
)

SUBJECTS = {
    "phone": ["battery", "screen", "camera", "charger", "case", "speaker", "signal", "app"],
    "hotel": ["room", "staff", "breakfast", "pool", "bed", "check-in", "view", "bathroom"],
    "restaurant": ["pasta", "waiter", "dessert", "menu", "table", "soup", "wine", "bill"],
    "laptop": ["keyboard", "fan", "trackpad", "ports", "hinge", "display", "drivers", "box"],
}
GOOD = ["excellent", "reliable", "spotless", "fast", "friendly", "delicious", "sturdy", "great"]
BAD = ["broken", "slow", "dirty", "rude", "cold", "flimsy", "overpriced", "noisy"]
TEMPLATES = [
    "The {a} was {g} but the {b} was {w}.",
    "I ordered this last week and the {a} is {g}.",
    "Do not buy: the {a} arrived {w} and support never answered about the {b}.",
    "Five stars for the {a}, it is {g}, and the {b} is {g2} too.",
    "Returned it after two days because the {a} kept getting {w}.",
    "Shipping took forever, the {b} was {w}, refund still pending.",
    "We stayed three nights; the {a} was {g} and the {b} {w}.",
]
# The former goal, "under 30 s", at the calibration of the project's 2-core machine when it was
# restated (15.8 s, 2026-12-04): 30 / 15.8.
SPEED_GOAL_MULTIPLE = 1.9


def other_domain_reviews(count: int, seed: int) -> list[str]:
    """Short reviews of phones, hotels, restaurants and laptops: plainly not movie reviews."""
    rng = random.Random(seed)
    reviews = []
    for _ in range(count):
        words = SUBJECTS[rng.choice(list(SUBJECTS))]
        sentences = [
            rng.choice(TEMPLATES).format(
                a=rng.choice(words),
                b=rng.choice(words),
                g=rng.choice(GOOD),
                g2=rng.choice(GOOD),
                w=rng.choice(BAD),
            )
            for _ in range(rng.randint(2, 5))
        ]
        reviews.append(" ".join(sentences))
    return reviews


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.replace("<br />", " "), maxsplit=1)[0]


def main() -> None:
    parser = benchmark_parser(__doc__, model=True)
    parser.add_argument("--windows", type=int, default=20, help="windows per case")
    parser.add_argument("--window-rows", type=int, default=1000)
    parser.add_argument("--speed-rows", type=int, default=10_000, help="current and reference")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the speed measurement and of each memory size",
    )
    parser.add_argument(
        "--memory-rows",
        type=_sizes,
        default=[10_000, 100_000, 400_000],
        help="rows of the monitored CSV files, comma-separated (default 10000,100000,400000)",
    )
    parser.add_argument("--skip-memory", action="store_true", help="leave out the memory runs")
    parser.add_argument(
        "--skip-detection", action="store_true", help="measure the memory alone (steps 1-5 out)"
    )
    args = parser.parse_args()
    if args.skip_memory and args.skip_detection:
        parser.error("--skip-memory and --skip-detection leave nothing to measure")
    calibration = calibrate_first(args.calibration_runs)

    if not args.skip_memory:
        memory = measure_memory(args.memory_rows, args.repeat, calibration)
        print(f"\n{calibration.describe()}\n")
        print(memory_table(memory))
        write_results("monitor-memory.json", {"memory": memory}, calibration)
    if not args.skip_detection:
        detection(args, calibration)


def detection(args: argparse.Namespace, calibration: Calibration) -> None:
    """Steps 1-5: false alarms, detection per shift, the estimate's error, speed."""
    from sentimentops.config import get_settings
    from sentimentops.monitoring.current import CurrentData
    from sentimentops.monitoring.run import run_monitoring
    from sentimentops.tracking.loading import LoadedModel

    settings = get_settings()
    _, test = official_split()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-model-") as scratch:
        pipeline: Any = load_champion(champion_folder(args.model, Path(scratch)))
    test = test.sample(frac=1.0, random_state=0).reset_index(drop=True)
    reference = test.iloc[:5000][["review", "sentiment"]].reset_index(drop=True)
    scores = pipeline.positive_scores(reference["review"].tolist())
    reference = reference.assign(
        score=scores, label=np.where(scores >= 0.5, "positive", "negative")
    )
    pool = test.iloc[5000:][["review", "sentiment"]].reset_index(drop=True)
    model = LoadedModel(pipeline, "champion-config", "bench", "bench", reference=reference)
    n, size = args.windows, args.window_rows
    rng = np.random.default_rng(1)

    def window(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[rng.choice(len(frame), size=size, replace=False)].reset_index(drop=True)

    unlabelled = pd.read_parquet(UNLABELLED)[["review"]]
    cases: dict[str, tuple[str | None, list[pd.DataFrame]]] = {
        "in-distribution (test split)": (None, [window(pool) for _ in range(n)]),
        "another domain (generated)": (
            "text_drift",
            [pd.DataFrame({"review": other_domain_reviews(size, seed)}) for seed in range(n)],
        ),
        "truncated to first sentence": (
            "text_drift",
            [
                window(pool).assign(review=lambda f: f["review"].map(first_sentence))
                for _ in range(n)
            ],
        ),
        "unlabelled IMDB reviews": ("text_drift", [window(unlabelled) for _ in range(n)]),
        "flipped feedback (30% of labels)": (
            "accuracy",
            [_flip(window(pool), rng) for _ in range(n)],
        ),
    }

    results: dict[str, Any] = {"windows_per_case": n, "window_rows": size, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
        for name, (expected, windows) in cases.items():
            kinds: list[set[str]] = []
            errors: list[float] = []  # label-free estimate against real accuracy
            covered: list[bool] = []
            for index, frame in enumerate(windows):
                outcome = run_monitoring(
                    CurrentData(frame, name), model, settings,
                    output_dir=Path(scratch) / f"{len(results['cases'])}-{index}",
                )  # fmt: skip
                kinds.append({alert.kind for alert in outcome.alerts})
                metrics = outcome.metrics
                if (
                    metrics.accuracy is not None
                    and metrics.estimated_accuracy
                    and expected != "accuracy"
                ):
                    estimate = metrics.estimated_accuracy
                    errors.append(abs(estimate.accuracy - metrics.accuracy))
                    covered.append(estimate.lower <= metrics.accuracy <= estimate.upper)
            any_alert = sum(1 for k in kinds if k) / len(kinds)
            entry = {"any_alert_rate": round(any_alert, 3), "alerts": _counts(kinds)}
            if expected is not None:
                entry["detection_rate"] = round(sum(expected in k for k in kinds) / len(kinds), 3)
            if errors:
                entry["estimate_mean_abs_error"] = round(float(np.mean(errors)), 4)
                entry["estimate_max_abs_error"] = round(float(np.max(errors)), 4)
                entry["estimate_interval_coverage"] = round(float(np.mean(covered)), 3)
            results["cases"][name] = entry
            print(name, entry, flush=True)

        rows = args.speed_rows
        big = pool.sample(rows, random_state=3, replace=len(pool) < rows).reset_index(drop=True)
        big_reference = test.sample(rows, random_state=4).reset_index(drop=True)
        big_scores = pipeline.positive_scores(big_reference["review"].tolist())
        big_reference = big_reference.assign(
            score=big_scores, label=np.where(big_scores >= 0.5, "positive", "negative")
        )
        seconds = []
        for attempt in range(args.repeat):
            started = time.perf_counter()
            run_monitoring(
                CurrentData(big, "speed"), model, settings,
                reference=big_reference, output_dir=Path(scratch) / f"speed-{attempt}",
            )  # fmt: skip
            seconds.append(time.perf_counter() - started)

    name = f"one run, {rows:,} current against {rows:,} reference reviews"
    met = calibration.multiple(float(np.median(seconds))) <= SPEED_GOAL_MULTIPLE
    goal = f"<= {SPEED_GOAL_MULTIPLE:g}x: {'met' if met else '**NOT met**'}"
    results["speed"] = {"rows": rows, **calibration.figure(seconds), "goal": goal, "met": met}
    print(f"\n{calibration.describe()}\n")
    print("| speed | wall time | x calibration | goal |\n| --- | ---: | ---: | --- |")
    print(table_row(name, seconds, calibration, goal))
    write_results("monitor.json", results, calibration)


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.replace("_", "").split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"row counts, comma-separated: {text!r}")
    return sizes


def _flip(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    flipped = rng.random(len(frame)) < 0.3
    other = frame["sentiment"].map({"positive": "negative", "negative": "positive"})
    return frame.assign(sentiment=np.where(flipped, other, frame["sentiment"]))


def _counts(kinds: list[set[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for window_kinds in kinds:
        for kind in window_kinds:
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    main()
