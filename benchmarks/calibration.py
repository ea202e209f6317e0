"""The machine calibration that every benchmark measures in the same run as its figures.

Machines differ by 2-3x, so a figure in seconds alone says little on another machine. The
calibration is a fixed scikit-learn workload in a fresh process, process start and imports
included: TF-IDF unigrams (10,000 features) and a logistic regression fitted on the 25,000
official training reviews and scored on the 25,000 test reviews. Benchmarks report each figure
in seconds and as a multiple of it (``figure / calibration``); goals are stated as multiples.

It uses scikit-learn and pandas directly, never the project's code, so a change to the project
cannot change the yardstick.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "imdb" / "imdb_reviews.parquet"

WORKLOAD = f"""
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

reviews = pd.read_parquet({str(DATA)!r})
train, test = reviews[reviews["split"] == "train"], reviews[reviews["split"] == "test"]
vectorizer = TfidfVectorizer(max_features=10_000)
model = LogisticRegression(max_iter=1_000).fit(
    vectorizer.fit_transform(train["review"]), train["sentiment"]
)
accuracy = (model.predict(vectorizer.transform(test["review"])) == test["sentiment"]).mean()
assert accuracy > 0.85, accuracy
"""


def spread(values: list[float]) -> dict[str, Any]:
    """Median, smallest and largest of repeated measurements, and the runs themselves."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "runs": [round(value, 3) for value in values],
    }


@dataclass(frozen=True)
class Calibration:
    """Wall seconds of the calibration workload, each run in a fresh process."""

    runs: list[float]

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    def multiple(self, seconds: float) -> float:
        """``seconds`` as a multiple of this machine's calibration."""
        return seconds / self.seconds

    def figure(self, values: list[float]) -> dict[str, Any]:
        """Repeated wall times in seconds and as multiples of the calibration."""
        return {
            "seconds": spread(values),
            "multiple": spread([self.multiple(value) for value in values]),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": "TF-IDF 10k unigrams + logistic regression, fit on 25k IMDB train "
            "reviews, scored on 25k test reviews, in a fresh process",
            "seconds": spread(self.runs),
            "machine": machine(),
        }

    def describe(self) -> str:
        low, high = min(self.runs), max(self.runs)
        return (
            f"calibration: {self.seconds:.1f} s (median of {len(self.runs)}, "
            f"{low:.1f}-{high:.1f} s) on {os.cpu_count()} cores"
        )


def calibrate(runs: int = 3) -> Calibration:
    """Run the workload ``runs`` times, each in a fresh interpreter of this environment."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", WORKLOAD], check=True)
        seconds.append(time.perf_counter() - started)
    return Calibration(seconds)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def table_row(name: str, values: list[float], calibration: Calibration, goal: str = "") -> str:
    """A Markdown table row: median seconds (spread), median multiple, and the goal."""
    figure = calibration.figure(values)
    seconds, multiple = figure["seconds"], figure["multiple"]
    return (
        f"| {name} | {seconds['median']:.1f} s ({seconds['min']:.1f}-{seconds['max']:.1f}) | "
        f"{multiple['median']:.2f}x ({multiple['min']:.2f}-{multiple['max']:.2f}) | {goal} |"
    )


if __name__ == "__main__":
    print(calibrate().describe())
